<?php
// Record a purchase and take the quantity off the item (ending it when none is left).
require __DIR__ . '/common.php';
$item = intArg('itemId');
$user = intArg('userId');
$qty = max(1, intArg('qty', 1));
db()->begin_transaction();
$it = one('SELECT quantity FROM items WHERE id=? FOR UPDATE', [$item]);
$bought = 0;
if ($it !== null && (int)$it['quantity'] > 0) {
    $bought = min($qty, (int)$it['quantity']);
    q('UPDATE items SET quantity=quantity-?, end_date=IF(quantity=0, NOW(), end_date) WHERE id=?', [$bought, $item]);
    q('INSERT INTO buy_now (buyer_id, item_id, qty, date) VALUES (?, ?, ?, NOW())', [$user, $item, $bought]);
}
db()->commit();
header_html('Purchase');
echo $bought > 0 ? "<p>You bought $bought of item $item.</p>\n" : "<p>Item $item is sold out or over.</p>\n";
footer_html();
