<?php
// One page of the items of a category sold by users of a region, not ended, soonest first.
require __DIR__ . '/common.php';
$cat = intArg('category');
$region = intArg('region');
$page = intArg('page', 0);
$n = min(100, intArg('nbOfItems', 20));
header_html("Items in category $cat, region $region");
$items = q('SELECT i.id, i.name, i.initial_price, i.max_bid, i.nb_of_bids, i.end_date FROM items i JOIN users u ON u.id=i.seller ' .
    'WHERE u.region=? AND i.category=? AND i.end_date>=NOW() ORDER BY i.end_date LIMIT ' . ($page * $n) . ',' . $n, [$region, $cat]);
item_rows($items);
if (count($items) === $n) echo '<a href="/SearchItemsByRegion.php?category=', $cat, '&region=', $region, '&page=', $page + 1, "&nbOfItems=$n\">Next page</a>\n";
footer_html();
