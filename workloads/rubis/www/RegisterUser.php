<?php
// Register a new user, refusing a nickname already taken.
require __DIR__ . '/common.php';
$nick = substr(arg('nickname'), 0, 20);
$region = intArg('region');
if (one('SELECT id FROM users WHERE nickname=?', [$nick]) !== null) throw new RuntimeException("nickname $nick is taken");
if (one('SELECT id FROM regions WHERE id=?', [$region]) === null) throw new RuntimeException("no region $region");
q('INSERT INTO users (firstname, lastname, nickname, password, email, rating, balance, creation_date, region) VALUES (?, ?, ?, ?, ?, 0, 0, NOW(), ?)',
    [substr(arg('firstname'), 0, 20), substr(arg('lastname'), 0, 20), $nick, substr(arg('password'), 0, 20), substr(arg('email'), 0, 50), $region]);
header_html('Welcome ' . $nick);
echo '<p>You are user <a href="/ViewUserInfo.php?userId=', (int)db()->insert_id, "\">", h($nick), "</a>.</p>\n";
footer_html();
