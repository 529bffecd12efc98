<?php
// Shared by the RUBiS pages: one MariaDB connection per request (the database tier is another
// guest, reached over the harness network), HTML helpers, and failures answered with HTTP 500 so
// that the client emulator counts them as errors.
declare(strict_types=1);
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

set_exception_handler(function (Throwable $e): void {
    http_response_code(500);
    echo '<html><body><h2>RUBiS error</h2><p>', htmlspecialchars($e->getMessage()), "</p></body></html>\n";
});

function db(): mysqli
{
    static $db = null;
    if ($db === null) {
        $db = new mysqli((string)getenv('RUBIS_DB_HOST'), 'rubis', 'rubis', 'rubis', (int)getenv('RUBIS_DB_PORT'));
        $db->set_charset('utf8mb4');
    }
    return $db;
}

/** Run a prepared statement; returns every row (SELECT) or the affected row count. */
function q(string $sql, array $args = []): array|int
{
    $st = db()->prepare($sql);
    if ($args) $st->bind_param(str_repeat('s', count($args)), ...array_map('strval', $args));
    $st->execute();
    $res = $st->get_result();
    if ($res === false) return $st->affected_rows;
    return $res->fetch_all(MYSQLI_ASSOC);
}

function one(string $sql, array $args = []): ?array
{
    $rows = q($sql, $args);
    return is_array($rows) && $rows ? $rows[0] : null;
}

function arg(string $name, ?string $default = null): string
{
    $v = $_GET[$name] ?? $_POST[$name] ?? $default;
    if ($v === null || $v === '') throw new InvalidArgumentException("missing parameter $name");
    return (string)$v;
}

function intArg(string $name, ?int $default = null): int
{
    $v = arg($name, $default === null ? null : (string)$default);
    if (!preg_match('/^-?\d+$/', $v)) throw new InvalidArgumentException("parameter $name is not an integer");
    return (int)$v;
}

function h(mixed $s): string
{
    return htmlspecialchars((string)$s);
}

function header_html(string $title): void
{
    echo "<html><head><title>RUBiS: ", h($title), "</title></head><body>\n",
        '<p><a href="/index.html">Home</a> | <a href="/register.html">Register</a> | <a href="/browse.html">Browse</a> | ',
        '<a href="/sell.html">Sell</a> | <a href="/about_me.html">About me</a></p>', "\n<h2>", h($title), "</h2>\n";
}

function footer_html(): void
{
    echo "<hr><p>RUBiS-like auction site (virtbench)</p></body></html>\n";
}

/** The user with this nickname and password, or an exception (the page answers 500). */
function authenticate(): int
{
    $u = one('SELECT id FROM users WHERE nickname=? AND password=?', [arg('nickname'), arg('password')]);
    if ($u === null) throw new RuntimeException('unknown user or wrong password');
    return (int)$u['id'];
}

/** An item, active or already ended. */
function find_item(int $id): ?array
{
    return one('SELECT * FROM items WHERE id=?', [$id]) ?? one('SELECT * FROM old_items WHERE id=?', [$id]);
}

/** The item named by the itemId parameter, or an exception (the page answers 500). */
function item_arg(): array
{
    $id = intArg('itemId');
    return find_item($id) ?? throw new RuntimeException("no item $id");
}

function item_rows(array $items): void
{
    echo "<table>\n<tr><th>Item</th><th>Price</th><th>Bids</th><th>Ends</th><th></th></tr>\n";
    foreach ($items as $it) {
        $price = max((float)$it['max_bid'], (float)$it['initial_price']);
        echo '<tr><td><a href="/ViewItem.php?itemId=', (int)$it['id'], '">', h($it['name']), '</a></td><td>', number_format($price, 2),
            '</td><td>', (int)$it['nb_of_bids'], '</td><td>', h($it['end_date']), '</td><td><a href="/PutBidAuth.php?itemId=', (int)$it['id'], "\">Bid now</a></td></tr>\n";
    }
    echo "</table>\n";
}

function auth_form(string $action, array $hidden): void
{
    echo '<form action="', h($action), '" method="GET">';
    foreach ($hidden as $k => $v) echo '<input type="hidden" name="', h($k), '" value="', h($v), '">';
    echo 'Nickname <input name="nickname"> Password <input type="password" name="password"> <input type="submit" value="Log in"></form>', "\n";
}
