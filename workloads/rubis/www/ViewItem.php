<?php
// An item (active or ended) with its seller, its current bid and what a visitor can do with it.
require __DIR__ . '/common.php';
$it = item_arg();
$id = (int)$it['id'];
$seller = one('SELECT nickname FROM users WHERE id=?', [$it['seller']]);
$max = one('SELECT MAX(bid) AS b FROM bids WHERE item_id=?', [$id]);
header_html($it['name']);
echo '<p>Current bid: ', number_format((float)($max['b'] ?? $it['initial_price']), 2), ' (', (int)$it['nb_of_bids'], ' bids) - quantity ', (int)$it['quantity'],
    ' - ends ', h($it['end_date']), "</p>\n";
echo '<p>Seller: <a href="/ViewUserInfo.php?userId=', (int)$it['seller'], '">', h($seller['nickname'] ?? '?'), "</a></p>\n";
echo '<p><a href="/PutBidAuth.php?itemId=', $id, '">Bid now</a> | <a href="/ViewBidHistory.php?itemId=', $id, '">Bid history</a>';
if ((float)$it['buy_now'] > 0) echo ' | <a href="/BuyNowAuth.php?itemId=', $id, '">Buy it now for ', number_format((float)$it['buy_now'], 2), '</a>';
echo "</p>\n<p>", h($it['description']), "</p>\n";
footer_html();
