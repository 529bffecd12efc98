<?php
// Log in before buying an item now.
require __DIR__ . '/common.php';
header_html('Log in to buy now');
auth_form('/BuyNow.php', ['itemId' => intArg('itemId')]);
footer_html();
