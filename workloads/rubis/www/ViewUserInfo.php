<?php
// A user's public information and the comments other users left about them.
require __DIR__ . '/common.php';
$id = intArg('userId');
$u = one('SELECT nickname, firstname, lastname, rating, creation_date FROM users WHERE id=?', [$id]);
if ($u === null) throw new RuntimeException("no user $id");
header_html('About ' . $u['nickname']);
echo '<p>', h($u['firstname']), ' ', h($u['lastname']), ', member since ', h($u['creation_date']), ', rating ', (int)$u['rating'], "</p>\n";
foreach (q('SELECT c.rating, c.date, c.comment, c.from_user_id, u.nickname FROM comments c JOIN users u ON u.id=c.from_user_id WHERE c.to_user_id=? ORDER BY c.date DESC', [$id]) as $c) {
    echo '<p><a href="/ViewUserInfo.php?userId=', (int)$c['from_user_id'], '">', h($c['nickname']), '</a> (', (int)$c['rating'], ', ', h($c['date']), '): ', h($c['comment']), "</p>\n";
}
footer_html();
