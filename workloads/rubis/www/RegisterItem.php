<?php
// Put a new item up for auction.
require __DIR__ . '/common.php';
$days = max(1, min(30, intArg('duration', 7)));
q('INSERT INTO items (name, description, initial_price, quantity, reserve_price, buy_now, nb_of_bids, max_bid, start_date, end_date, seller, category) ' .
    'VALUES (?, ?, ?, ?, ?, ?, 0, 0, NOW(), NOW() + INTERVAL ? DAY, ?, ?)',
    [substr(arg('name'), 0, 100), substr(arg('description', ''), 0, 8192), (float)arg('initialPrice'), max(1, intArg('quantity', 1)),
        (float)arg('reservePrice', '0'), (float)arg('buyNow', '0'), $days, intArg('userId'), intArg('categoryId')]);
$id = db()->insert_id;
header_html('Item registered');
echo '<p>Your item is <a href="/ViewItem.php?itemId=', (int)$id, "\">on sale</a>.</p>\n";
footer_html();
