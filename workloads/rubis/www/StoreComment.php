<?php
// Record a comment and add its rating to the user's, in one transaction.
require __DIR__ . '/common.php';
$to = intArg('to');
$from = intArg('from');
$item = intArg('itemId');
$rating = max(-5, min(5, intArg('rating', 0)));
db()->begin_transaction();
q('INSERT INTO comments (from_user_id, to_user_id, item_id, rating, date, comment) VALUES (?, ?, ?, ?, NOW(), ?)', [$from, $to, $item, $rating, substr(arg('comment', ''), 0, 2048)]);
q('UPDATE users SET rating=rating+? WHERE id=?', [$rating, $to]);
db()->commit();
header_html('Comment stored');
echo '<p>Your comment about <a href="/ViewUserInfo.php?userId=', $to, "\">this user</a> is recorded.</p>\n";
footer_html();
