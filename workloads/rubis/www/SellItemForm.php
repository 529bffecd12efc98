<?php
// The form describing an item to sell in a category.
require __DIR__ . '/common.php';
$cat = intArg('category');
$user = intArg('user');
header_html('Sell an item in category ' . $cat);
echo '<form action="/RegisterItem.php" method="GET"><input type="hidden" name="categoryId" value="', $cat, '"><input type="hidden" name="userId" value="', $user, '">',
    'Name <input name="name"> Description <textarea name="description"></textarea> Initial price <input name="initialPrice"> Reserve price <input name="reservePrice">',
    ' Buy now <input name="buyNow"> Duration (days) <input name="duration"> Quantity <input name="quantity"><input type="submit" value="Sell"></form>', "\n";
footer_html();
