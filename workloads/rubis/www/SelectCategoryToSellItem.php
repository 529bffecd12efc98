<?php
// A logged-in seller picks the category of the item to sell.
require __DIR__ . '/common.php';
$me = authenticate();
header_html('Sell an item: choose its category');
foreach (q('SELECT id, name FROM categories ORDER BY id') as $c) {
    echo '<a href="/SellItemForm.php?category=', (int)$c['id'], '&user=', $me, '">', h($c['name']), "</a><br>\n";
}
footer_html();
