<?php
// Log in before commenting on a user.
require __DIR__ . '/common.php';
header_html('Log in to leave a comment');
auth_form('/PutComment.php', ['to' => intArg('to'), 'itemId' => intArg('itemId')]);
footer_html();
