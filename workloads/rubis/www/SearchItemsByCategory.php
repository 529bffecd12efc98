<?php
// One page of a category's items that have not ended, soonest first.
require __DIR__ . '/common.php';
$cat = intArg('category');
$page = intArg('page', 0);
$n = min(100, intArg('nbOfItems', 20));
header_html('Items in category ' . $cat);
$items = q('SELECT id, name, initial_price, max_bid, nb_of_bids, end_date FROM items WHERE category=? AND end_date>=NOW() ORDER BY end_date LIMIT ' . ($page * $n) . ',' . $n, [$cat]);
item_rows($items);
if (count($items) === $n) echo '<a href="/SearchItemsByCategory.php?category=', $cat, '&page=', $page + 1, "&nbOfItems=$n\">Next page</a>\n";
footer_html();
