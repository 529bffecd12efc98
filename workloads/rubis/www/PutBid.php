<?php
// The bid form of an item for a logged-in user, with the current price and the minimum bid.
require __DIR__ . '/common.php';
$me = authenticate();
$it = item_arg();
$id = (int)$it['id'];
$max = one('SELECT MAX(bid) AS b, COUNT(*) AS n FROM bids WHERE item_id=?', [$id]);
$current = (float)($max['b'] ?? 0);
$min = $current > 0 ? $current + 1 : (float)$it['initial_price'];
header_html('Bid on ' . $it['name']);
echo '<p>Current bid ', number_format($current, 2), ' (', (int)$max['n'], " bids)</p>\n";
echo '<form action="/StoreBid.php" method="GET"><input type="hidden" name="itemId" value="', $id, '"><input type="hidden" name="userId" value="', $me, '">',
    '<input type="hidden" name="minBid" value="', number_format($min, 2, '.', ''), '">',
    'Bid <input name="bid"> Max bid <input name="maxBid"> Quantity <input name="qty" value="1"><input type="submit" value="Bid"></form>', "\n";
footer_html();
