<?php
// The comment form about a user, for a logged-in user.
require __DIR__ . '/common.php';
$me = authenticate();
$to = intArg('to');
$item = intArg('itemId');
$u = one('SELECT nickname FROM users WHERE id=?', [$to]);
if ($u === null) throw new RuntimeException("no user $to");
$it = find_item($item);
header_html('Comment on ' . $u['nickname']);
echo '<p>About item: ', h($it['name'] ?? '?'), "</p>\n";
echo '<form action="/StoreComment.php" method="GET"><input type="hidden" name="to" value="', $to, '"><input type="hidden" name="from" value="', $me, '">',
    '<input type="hidden" name="itemId" value="', $item, '">Rating <input name="rating"> <textarea name="comment"></textarea><input type="submit" value="Comment"></form>', "\n";
footer_html();
