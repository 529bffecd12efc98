<?php
// Record a bid and update the item's bid count and highest bid, in one transaction.
require __DIR__ . '/common.php';
$item = intArg('itemId');
$user = intArg('userId');
$bid = (float)arg('bid');
$maxBid = max($bid, (float)arg('maxBid', (string)$bid));
$qty = max(1, intArg('qty', 1));
db()->begin_transaction();
q('INSERT INTO bids (user_id, item_id, qty, bid, max_bid, date) VALUES (?, ?, ?, ?, ?, NOW())', [$user, $item, $qty, $bid, $maxBid]);
q('UPDATE items SET nb_of_bids=nb_of_bids+1, max_bid=GREATEST(max_bid, ?) WHERE id=?', [$bid, $item]);
db()->commit();
header_html('Bid stored');
echo '<p>Your bid of ', number_format($bid, 2), ' on <a href="/ViewItem.php?itemId=', $item, "\">the item</a> is recorded.</p>\n";
footer_html();
