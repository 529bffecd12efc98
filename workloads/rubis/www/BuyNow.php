<?php
// The buy-now form of an item for a logged-in user.
require __DIR__ . '/common.php';
$me = authenticate();
$it = item_arg();
$id = (int)$it['id'];
header_html('Buy ' . $it['name'] . ' now');
echo '<p>Price ', number_format((float)$it['buy_now'], 2), ', ', (int)$it['quantity'], " available</p>\n";
echo '<form action="/StoreBuyNow.php" method="GET"><input type="hidden" name="itemId" value="', $id, '"><input type="hidden" name="userId" value="', $me, '">',
    'Quantity <input name="qty" value="1"><input type="submit" value="Buy"></form>', "\n";
footer_html();
