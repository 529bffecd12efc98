<?php
// Every bid on an item, newest first, with the bidders.
require __DIR__ . '/common.php';
$it = item_arg();
$id = (int)$it['id'];
header_html('Bid history of ' . $it['name']);
echo "<table><tr><th>Bidder</th><th>Bid</th><th>Date</th></tr>\n";
foreach (q('SELECT b.bid, b.date, b.user_id, u.nickname FROM bids b JOIN users u ON u.id=b.user_id WHERE b.item_id=? ORDER BY b.date DESC', [$id]) as $b) {
    echo '<tr><td><a href="/ViewUserInfo.php?userId=', (int)$b['user_id'], '">', h($b['nickname']), '</a></td><td>', number_format((float)$b['bid'], 2), '</td><td>', h($b['date']), "</td></tr>\n";
}
echo "</table>\n";
echo '<p><a href="/ViewItem.php?itemId=', $id, "\">Back to the item</a></p>\n";
footer_html();
