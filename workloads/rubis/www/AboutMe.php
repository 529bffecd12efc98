<?php
// A logged-in user's own page: their bids, the items they sell, what they bought, comments about them.
require __DIR__ . '/common.php';
$me = authenticate();
$u = one('SELECT nickname, firstname, lastname, email, rating, balance FROM users WHERE id=?', [$me]);
header_html('About ' . $u['nickname']);
echo '<p>', h($u['firstname']), ' ', h($u['lastname']), ' (', h($u['email']), '), rating ', (int)$u['rating'], "</p>\n<h3>Your bids</h3>\n";
item_rows(q('SELECT DISTINCT i.id, i.name, i.initial_price, i.max_bid, i.nb_of_bids, i.end_date FROM bids b JOIN items i ON i.id=b.item_id WHERE b.user_id=?', [$me]));
echo "<h3>Items you sell</h3>\n";
item_rows(q('SELECT id, name, initial_price, max_bid, nb_of_bids, end_date FROM items WHERE seller=?', [$me]));
echo "<h3>Items you bought</h3>\n";
foreach (q('SELECT b.item_id, b.qty, b.date FROM buy_now b WHERE b.buyer_id=? ORDER BY b.date DESC', [$me]) as $b) {
    echo '<a href="/ViewItem.php?itemId=', (int)$b['item_id'], '">item ', (int)$b['item_id'], '</a> x', (int)$b['qty'], ' on ', h($b['date']), "<br>\n";
}
echo "<h3>Comments about you</h3>\n";
foreach (q('SELECT c.comment, c.rating, c.from_user_id FROM comments c WHERE c.to_user_id=?', [$me]) as $c) {
    echo '<p><a href="/ViewUserInfo.php?userId=', (int)$c['from_user_id'], '">from user ', (int)$c['from_user_id'], '</a> (', (int)$c['rating'], '): ', h($c['comment']), "</p>\n";
}
footer_html();
