<?php
// Log in before bidding on an item.
require __DIR__ . '/common.php';
header_html('Log in to bid');
auth_form('/PutBid.php', ['itemId' => intArg('itemId')]);
footer_html();
