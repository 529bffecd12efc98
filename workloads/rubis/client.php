<?php
// virtbench's RUBiS client emulator, run with php-cli in the client guest (PHP is in every guest
// image already, for the web tier). Modelled on RUBiS 1.4.3's emulator: each emulated user plays
// sessions that walk the configured transition table, waiting a TPC-W think time (negative
// exponential, capped at 10x its mean) between requests; a session ends at "End" or after the
// maximum number of transitions, and the user starts a new one at Home.
//
//   php client.php CONFIG.json            emulate users against the web tier (HTTP/1.0, one
//                                         connection per request, only to config.target)
//   php client.php CONFIG.json simulate N walk the state machine N times with no HTTP and print
//                                         the transition counts as JSON (used by the unit test)
//
// All users share one process and one event loop (non-blocking sockets + stream_select), so a
// few hundred users cost one core at most. Bounded by the measurement window and maxRequests.
declare(strict_types=1);

const HISTORY_MAX = 32;

/** Pick an outcome of a row ([[to, p], ...]) for a uniform draw u in [0, 1). */
function pick(array $row, float $u): string
{
    $acc = 0.0;
    foreach ($row as [$to, $p]) {
        $acc += $p;
        if ($u < $acc) return $to;
    }
    return $row[count($row) - 1][0];
}

function uniform(): float
{
    return mt_rand() / (mt_getrandmax() + 1.0);
}

function newSession(array &$u, array $cfg): void
{
    $u['state'] = 'Home';
    $u['history'] = [];
    $u['n'] = 0;
    $u['me'] = mt_rand(1, max(1, $cfg['db']['users']));
}

/**
 * One transition of a user's session; returns the outcome drawn ('End', 'Back', a state, or
 * 'MaxTransitions' when the session is too long) and leaves the user in the next state.
 */
function step(array &$u, array $cfg): string
{
    $mix = $cfg['mix'];
    if ($u['n'] >= $cfg['maxTransitions']) {
        newSession($u, $cfg);
        return 'MaxTransitions';
    }
    $outcome = pick($mix[$u['state']], uniform());
    if ($outcome === 'End') {
        newSession($u, $cfg);
        return $outcome;
    }
    if ($outcome === 'Back') {
        $u['state'] = array_pop($u['history']) ?? 'Home';
    } else {
        $u['history'][] = $u['state'];
        if (count($u['history']) > HISTORY_MAX) array_shift($u['history']);
        $u['state'] = $outcome;
    }
    $u['n']++;
    return $outcome;
}

function thinkTime(array $cfg): float
{
    $mean = (float)$cfg['thinkMeanS'];
    if ($mean <= 0) return 0.0;
    return min(-$mean * log(1.0 - uniform()), 10 * $mean);
}

function simulate(array $cfg, int $n): void
{
    $u = [];
    newSession($u, $cfg);
    $counts = [];
    $sessions = 1;
    for ($i = 0; $i < $n; $i++) {
        $from = $u['state'];
        $outcome = step($u, $cfg);
        $counts[$from][$outcome] = ($counts[$from][$outcome] ?? 0) + 1;
        if ($outcome === 'End' || $outcome === 'MaxTransitions') $sessions++;
    }
    echo json_encode(['transitions' => $n, 'sessions' => $sessions, 'counts' => $counts]), "\n";
}

// ---- the HTTP side -------------------------------------------------------------------------

function randomFrom(string $body, string $re, int $fallbackMax): int
{
    if (preg_match_all($re, $body, $m) && count($m[1]) > 0) return (int)$m[1][mt_rand(0, count($m[1]) - 1)];
    return mt_rand(1, max(1, $fallbackMax));
}

/** The URL of the user's current state, from what the previous page offered (as a browser would). */
function urlFor(array &$u, array $cfg): string
{
    $db = $cfg['db'];
    $body = $u['body'] ?? '';
    $auth = 'nickname=user' . $u['me'] . '&password=pw' . $u['me'];
    $prev = $u['prev'] ?? '';
    switch ($u['state']) {
        case 'Home': return '/index.html';
        case 'Register': return '/register.html';
        case 'RegisterUser':
            $nick = 'n' . getmypid() . '-' . mt_rand() . '-' . ($u['id'] ?? 0);
            return '/RegisterUser.php?firstname=F&lastname=L&nickname=' . $nick . '&password=p&email=' . $nick . '%40rubis.test&region=' . mt_rand(1, $db['regions']);
        case 'Browse': return '/browse.html';
        case 'BrowseCategories': return '/BrowseCategories.php';
        case 'SearchItemsInCategory':
            if ($prev === 'SearchItemsInCategory' && isset($u['category'])) $u['page']++;
            else { $u['category'] = randomFrom($body, '/category=(\d+)/', $db['categories']); $u['page'] = 0; }
            return '/SearchItemsByCategory.php?category=' . $u['category'] . '&page=' . $u['page'] . '&nbOfItems=' . $cfg['itemsPerPage'];
        case 'BrowseRegions': return '/BrowseRegions.php';
        case 'BrowseCategoriesInRegion':
            $u['region'] = randomFrom($body, '/region=(\d+)/', $db['regions']);
            return '/BrowseCategories.php?region=' . $u['region'];
        case 'SearchItemsInRegion':
            if ($prev === 'SearchItemsInRegion' && isset($u['category'], $u['region'])) $u['page']++;
            else { $u['category'] = randomFrom($body, '/category=(\d+)/', $db['categories']); $u['region'] ??= mt_rand(1, $db['regions']); $u['page'] = 0; }
            return '/SearchItemsByRegion.php?category=' . $u['category'] . '&region=' . $u['region'] . '&page=' . $u['page'] . '&nbOfItems=' . $cfg['itemsPerPage'];
        case 'ViewItem':
            $u['item'] = randomFrom($body, '/itemId=(\d+)/', $db['items']);
            return '/ViewItem.php?itemId=' . $u['item'];
        case 'ViewUserInfo':
            $u['user'] = randomFrom($body, '/userId=(\d+)/', $db['users']);
            return '/ViewUserInfo.php?userId=' . $u['user'];
        case 'ViewBidHistory': return '/ViewBidHistory.php?itemId=' . ($u['item'] ?? 1);
        case 'BuyNowAuth': return '/BuyNowAuth.php?itemId=' . ($u['item'] ?? 1);
        case 'BuyNow': return '/BuyNow.php?itemId=' . ($u['item'] ?? 1) . '&' . $auth;
        case 'StoreBuyNow': return '/StoreBuyNow.php?itemId=' . ($u['item'] ?? 1) . '&userId=' . $u['me'] . '&qty=1';
        case 'PutBidAuth': return '/PutBidAuth.php?itemId=' . ($u['item'] ?? 1);
        case 'PutBid': return '/PutBid.php?itemId=' . ($u['item'] ?? 1) . '&' . $auth;
        case 'StoreBid':
            $min = preg_match('/name="minBid" value="([\d.]+)"/', $body, $m) ? (float)$m[1] : 1.0;
            $bid = round($min + mt_rand(0, 1000) / 100, 2);
            return '/StoreBid.php?itemId=' . ($u['item'] ?? 1) . '&userId=' . $u['me'] . '&qty=1&bid=' . $bid . '&maxBid=' . round($bid * 1.1, 2);
        case 'PutCommentAuth': return '/PutCommentAuth.php?to=' . ($u['user'] ?? 1) . '&itemId=' . ($u['item'] ?? 1);
        case 'PutComment': return '/PutComment.php?to=' . ($u['user'] ?? 1) . '&itemId=' . ($u['item'] ?? 1) . '&' . $auth;
        case 'StoreComment':
            return '/StoreComment.php?to=' . ($u['user'] ?? 1) . '&from=' . $u['me'] . '&itemId=' . ($u['item'] ?? 1) . '&rating=' . mt_rand(-5, 5) .
                '&comment=' . rawurlencode(str_repeat('A fine seller. ', mt_rand(1, 20)));
        case 'Sell': return '/sell.html';
        case 'SelectCategoryToSellItem': return '/SelectCategoryToSellItem.php?' . $auth;
        case 'SellItemForm':
            $u['category'] = randomFrom($body, '/category=(\d+)/', $db['categories']);
            return '/SellItemForm.php?category=' . $u['category'] . '&user=' . $u['me'];
        case 'RegisterItem':
            $price = mt_rand(100, 100000) / 100;
            return '/RegisterItem.php?name=Item+' . mt_rand() . '&description=' . rawurlencode(str_repeat('A very useful thing. ', mt_rand(1, 50))) .
                '&initialPrice=' . $price . '&reservePrice=' . ($price * 1.2) . '&buyNow=' . ($price * 2) . '&duration=7&quantity=' . mt_rand(1, 10) .
                '&userId=' . $u['me'] . '&categoryId=' . ($u['category'] ?? 1);
        case 'AboutMeAuth': return '/about_me.html';
        case 'AboutMe': return '/AboutMe.php?' . $auth;
    }
    throw new RuntimeException('no URL for state ' . $u['state']);
}

function percentile(array $sorted, float $p): float
{
    $n = count($sorted);
    if ($n === 0) return NAN;
    return $sorted[max(0, (int)ceil($p / 100 * $n) - 1)];
}

function emulate(array $cfg): void
{
    mt_srand((int)$cfg['seed']);
    $host = $cfg['target']['host'];
    $port = (int)$cfg['target']['port'];
    $t0 = microtime(true);
    $measureFrom = $t0 + $cfg['warmupS'];
    $endAt = $measureFrom + $cfg['measureS'];
    $timeout = (float)$cfg['requestTimeoutS'];
    $users = [];
    for ($i = 0; $i < $cfg['users']; $i++) {
        $u = ['id' => $i];
        newSession($u, $cfg);
        // start users spread over one mean think time, so they do not arrive in one burst
        $u['nextAt'] = $t0 + uniform() * max(0.05, (float)$cfg['thinkMeanS']);
        $u['sock'] = null;
        $users[$i] = $u;
    }
    $lat = [];
    $errors = 0;
    $started = 0;
    $perState = [];
    $sessions = $cfg['users'];
    $firstError = '';
    $inFlight = 0;
    while (true) {
        $now = microtime(true);
        $stopStarting = $now >= $endAt || $started >= $cfg['maxRequests'];
        if ($stopStarting && $inFlight === 0) break;
        if ($now >= $endAt + $timeout + 1) break;
        $nextDue = $endAt;
        foreach ($users as $i => &$u) {
            if ($u['sock'] !== null) {
                if ($now - $u['t'] > $timeout) {
                    fclose($u['sock']);
                    $u['sock'] = null;
                    $inFlight--;
                    finish($u, $cfg, 0, '', 'timed out after ' . $timeout . ' s', $measureFrom, $endAt, $lat, $errors, $perState, $firstError, $sessions);
                }
                continue;
            }
            if ($stopStarting) continue;
            if ($u['nextAt'] <= $now) {
                $u['path'] = urlFor($u, $cfg);
                $u['t'] = microtime(true);
                $u['buf'] = '';
                $u['sent'] = false;
                $s = @stream_socket_client("tcp://$host:$port", $errno, $errstr, $timeout, STREAM_CLIENT_CONNECT | STREAM_CLIENT_ASYNC_CONNECT);
                $started++;
                if ($s === false) {
                    finish($u, $cfg, 0, '', "connect: $errstr", $measureFrom, $endAt, $lat, $errors, $perState, $firstError, $sessions);
                    continue;
                }
                stream_set_blocking($s, false);
                $u['sock'] = $s;
                $inFlight++;
            } else {
                $nextDue = min($nextDue, $u['nextAt']);
            }
        }
        unset($u);
        $read = [];
        $write = [];
        foreach ($users as $i => $u) {
            if ($u['sock'] === null) continue;
            if ($u['sent']) $read[$i] = $u['sock'];
            else $write[$i] = $u['sock'];
        }
        if (!$read && !$write) {
            $wait = max(0.0, min($nextDue, $endAt) - microtime(true));
            if ($wait > 0) usleep((int)min(50000, $wait * 1e6));
            continue;
        }
        $except = null;
        $wait = max(0.0, min($nextDue - microtime(true), 0.05));
        $n = @stream_select($read, $write, $except, 0, (int)($wait * 1e6));
        if ($n === false || $n === 0) continue;
        foreach ($write as $i => $s) {
            $u = &$users[$i];
            $req = "GET {$cfg['target']['base']}{$u['path']} HTTP/1.0\r\nHost: $host:$port\r\nUser-Agent: virtbench-rubis\r\n\r\n";
            if (@fwrite($s, $req) !== strlen($req)) {
                fclose($s);
                $u['sock'] = null;
                $inFlight--;
                finish($u, $cfg, 0, '', 'connection refused or reset', $measureFrom, $endAt, $lat, $errors, $perState, $firstError, $sessions);
            } else {
                $u['sent'] = true;
            }
            unset($u);
        }
        foreach ($read as $i => $s) {
            $u = &$users[$i];
            $chunk = @fread($s, 65536);
            if ($chunk !== false && $chunk !== '') $u['buf'] .= $chunk;
            if ($chunk === false || feof($s)) {
                fclose($s);
                $u['sock'] = null;
                $inFlight--;
                $status = preg_match('#^HTTP/1\.\d (\d{3})#', $u['buf'], $m) ? (int)$m[1] : 0;
                $why = $status === 200 ? '' : ($status === 0 ? 'no HTTP response' : "HTTP $status");
                finish($u, $cfg, $status, $u['buf'], $why, $measureFrom, $endAt, $lat, $errors, $perState, $firstError, $sessions);
            }
            unset($u);
        }
    }
    foreach ($users as $u) if ($u['sock'] !== null) fclose($u['sock']);
    sort($lat);
    $ok = count($lat);
    $window = (float)$cfg['measureS'];
    printf("rubis-client 1 mix=%s users=%d think_mean_s=%s\n", $cfg['mixName'], $cfg['users'], $cfg['thinkMeanS']);
    printf("window_s %.3f\n", $window);
    printf("requests %d\n", $ok + $errors);
    printf("errors %d\n", $errors);
    printf("throughput_rps %.3f\n", $ok / $window);
    if ($ok > 0) {
        printf("latency_ms mean %.3f p50 %.3f p95 %.3f p99 %.3f max %.3f\n", array_sum($lat) / $ok, percentile($lat, 50), percentile($lat, 95), percentile($lat, 99), $lat[$ok - 1]);
    }
    printf("sessions %d\n", $sessions);
    ksort($perState);
    foreach ($perState as $st => [$c, $e]) printf("interaction %s %d %d\n", $st, $c, $e);
    if ($firstError !== '') printf("first_error %s\n", $firstError);
}

/** A response (or failure) arrived: record it if it started in the window, then think and move on. */
function finish(array &$u, array $cfg, int $status, string $buf, string $why, float $from, float $to, array &$lat, int &$errors, array &$perState, string &$firstError, int &$sessions): void
{
    $now = microtime(true);
    if ($u['t'] >= $from && $u['t'] < $to) {
        $perState[$u['state']] ??= [0, 0];
        $perState[$u['state']][0]++;
        if ($why === '') {
            $lat[] = ($now - $u['t']) * 1000;
        } else {
            $errors++;
            $perState[$u['state']][1]++;
            if ($firstError === '') $firstError = $u['state'] . ' ' . $u['path'] . ': ' . $why;
        }
    }
    $sep = strpos($buf, "\r\n\r\n");
    $u['body'] = $sep === false ? '' : substr($buf, $sep + 4);
    $u['prev'] = $u['state'];
    $outcome = step($u, $cfg);
    if ($outcome === 'End' || $outcome === 'MaxTransitions') {
        $sessions++;
        $u['body'] = '';
        $u['prev'] = '';
    }
    $u['nextAt'] = $now + thinkTime($cfg);
}

if (PHP_SAPI === 'cli' && isset($argv) && realpath($argv[0]) === __FILE__) {
    if (count($argv) < 2) {
        fwrite(STDERR, "usage: php client.php CONFIG.json [simulate N]\n");
        exit(2);
    }
    $cfg = json_decode((string)file_get_contents($argv[1]), true, 512, JSON_THROW_ON_ERROR);
    if (($argv[2] ?? '') === 'simulate') {
        mt_srand((int)$cfg['seed']);
        simulate($cfg, (int)($argv[3] ?? 100000));
    } else {
        emulate($cfg);
    }
}
