// RUBiS (the study's network-bound workload): an auction site modelled on RUBiS 1.4.3 in three
// guests on the harness network, as the study ran it: the web tier (Debian's Apache with mod_php
// serving the PHP pages of workloads/rubis/www), the database tier (Debian's MariaDB, RUBiS's
// schema filled by a generator with RUBiS's proportions scaled by profile) and a client emulator
// (workloads/rubis/client.php under php-cli) that plays user sessions of the browsing or bidding
// mix with think times, and talks HTTP only to the web tier's address.
//
// The measured guest (the target, the one beside the neighbour) is the web tier: it is where
// every client request arrives and leaves over the network, the resource this row of the study
// isolates; the database and client tiers are the workload's extra guests (ctx.tiers) of the same
// platform and size. The figures are the client's: throughput and response times of the whole
// site, as the study reports for RUBiS.
//
// Why php-cli for the client: PHP is in every guest image already (the web tier needs it), guests
// have no Node, and one process with non-blocking sockets emulates hundreds of users.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, Metric, ProfileName, RunContext, RunResult, Workload } from '../core/types.ts';
import { addressOf, ensureCommands, parseKv, portFor, startServer, tcpOpen, waitUntilReady, type Server } from './service-util.ts';

const ASSETS = fileURLToPath(new URL('./rubis/', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

/** RUBiS's 27 interactions. */
export const STATES = [
  'Home', 'Register', 'RegisterUser', 'Browse', 'BrowseCategories', 'SearchItemsInCategory', 'BrowseRegions',
  'BrowseCategoriesInRegion', 'SearchItemsInRegion', 'ViewItem', 'ViewUserInfo', 'ViewBidHistory', 'BuyNowAuth',
  'BuyNow', 'StoreBuyNow', 'PutBidAuth', 'PutBid', 'StoreBid', 'PutCommentAuth', 'PutComment', 'StoreComment',
  'Sell', 'SelectCategoryToSellItem', 'SellItemForm', 'RegisterItem', 'AboutMeAuth', 'AboutMe',
] as const;
/** Interactions that write to the database. */
export const WRITE_STATES = ['RegisterUser', 'StoreBuyNow', 'StoreBid', 'StoreComment', 'RegisterItem'];
const OUTCOMES_EXTRA = ['Back', 'End'];

export type Mix = Record<string, [string, number][]>;
export type MixName = 'browsing' | 'bidding';

/**
 * The transition tables of workloads/rubis/transitions.txt, by mix. Every row must sum to 1, name
 * known interactions (or Back/End), and every interaction a row leads to must have a row itself.
 */
export function parseTransitions(text: string): Record<string, Mix> {
  const mixes: Record<string, Mix> = {};
  let current: Mix | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const where = `transitions line ${i + 1}`;
    const section = line.match(/^\[(\w+)\]$/);
    if (section) {
      current = mixes[section[1]!] = {};
      return;
    }
    if (!current) throw new Error(`${where}: a row before any [mix] section`);
    const m = line.match(/^(\w+)\s*->\s*(.+)$/);
    if (!m) throw new Error(`${where}: expected "From -> To p, To p, ..."`);
    const from = m[1]!;
    if (!(STATES as readonly string[]).includes(from)) throw new Error(`${where}: unknown interaction ${from}`);
    if (current[from]) throw new Error(`${where}: a second row for ${from}`);
    const row: [string, number][] = m[2]!.split(',').map((part) => {
      const pm = part.trim().match(/^(\w+)\s+(\d*\.?\d+)$/);
      if (!pm) throw new Error(`${where}: expected "To p", got '${part.trim()}'`);
      const to = pm[1]!;
      if (!(STATES as readonly string[]).includes(to) && !OUTCOMES_EXTRA.includes(to)) throw new Error(`${where}: unknown interaction ${to}`);
      return [to, Number(pm[2])];
    });
    const sum = row.reduce((s, [, p]) => s + p, 0);
    if (Math.abs(sum - 1) > 1e-9) throw new Error(`${where}: probabilities of ${from} sum to ${sum}, not 1`);
    current[from] = row;
  });
  for (const [name, mix] of Object.entries(mixes)) {
    if (!mix.Home) throw new Error(`mix ${name} has no Home row (sessions start at Home)`);
    for (const [from, row] of Object.entries(mix)) {
      for (const [to] of row) {
        if (!OUTCOMES_EXTRA.includes(to) && !mix[to]) throw new Error(`mix ${name}: ${from} leads to ${to}, which has no row`);
      }
    }
  }
  return mixes;
}

export function loadMix(name: MixName): Mix {
  const mix = parseTransitions(readFileSync(join(ASSETS, 'transitions.txt'), 'utf8'))[name];
  if (!mix) throw new Error(`rubis: no [${name}] mix in transitions.txt`);
  return mix;
}

export interface RubisData {
  users: number;
  /** Active items (RUBiS: 32,667, from its category file). */
  items: number;
  oldItems: number;
  maxBidsPerItem: number;
  maxCommentsPerUser: number;
  descriptionMax: number;
  commentMax: number;
}

export interface RubisClient {
  users: number;
  /** Mean of the TPC-W think time (negative exponential, capped at 10x); RUBiS uses 7 s. */
  thinkMeanS: number;
  warmupS: number;
  measureS: number;
  /** Session length cap (RUBiS: workload_maximum_number_of_transitions = 1000). */
  maxTransitions: number;
  maxRequests: number;
  requestTimeoutS: number;
  itemsPerPage: number;
}

export interface RubisParams {
  data: RubisData;
  client: RubisClient;
  /** Apache's MaxRequestWorkers. */
  webWorkers: number;
}

/**
 * paper: RUBiS's own database sizes (1M users, 32,667 active and 500,000 old items, up to 20 bids
 * per item, 8 KB descriptions) except comments (up to 2 per user; RUBiS's 20 would make each run
 * load over 10 GB), its 7 s think time and 1000-transition sessions. smoke loads in seconds.
 */
export const RUBIS_PROFILES: Record<ProfileName, RubisParams> = {
  smoke: {
    data: { users: 2000, items: 1000, oldItems: 2000, maxBidsPerItem: 20, maxCommentsPerUser: 5, descriptionMax: 512, commentMax: 256 },
    client: { users: 24, thinkMeanS: 0.2, warmupS: 2, measureS: 10, maxTransitions: 1000, maxRequests: 50_000, requestTimeoutS: 10, itemsPerPage: 20 },
    webWorkers: 48,
  },
  quick: {
    data: { users: 50_000, items: 10_000, oldItems: 25_000, maxBidsPerItem: 20, maxCommentsPerUser: 5, descriptionMax: 2048, commentMax: 512 },
    client: { users: 150, thinkMeanS: 1, warmupS: 30, measureS: 120, maxTransitions: 1000, maxRequests: 1_000_000, requestTimeoutS: 30, itemsPerPage: 20 },
    webWorkers: 150,
  },
  paper: {
    data: { users: 1_000_000, items: 32_667, oldItems: 500_000, maxBidsPerItem: 20, maxCommentsPerUser: 2, descriptionMax: 8192, commentMax: 2048 },
    client: { users: 600, thinkMeanS: 7, warmupS: 300, measureS: 900, maxTransitions: 1000, maxRequests: 5_000_000, requestTimeoutS: 60, itemsPerPage: 20 },
    webWorkers: 400,
  },
};

const INTEGER_KEYS = ['users', 'maxTransitions', 'maxRequests'] as const;
const SECONDS_KEYS = ['thinkMeanS', 'warmupS', 'measureS', 'requestTimeoutS'] as const;

/**
 * A profile's parameters with the client overridden from the environment
 * (VIRTBENCH_RUBIS="users=400,thinkMeanS=1"), e.g. to drive a lab host's web tier to saturation.
 */
export function rubisParamsFor(profile: ProfileName, env: string | undefined = process.env.VIRTBENCH_RUBIS): RubisParams {
  const base = RUBIS_PROFILES[profile];
  const client: RubisClient = { ...base.client };
  for (const [k, v] of Object.entries(parseKv(env, 'VIRTBENCH_RUBIS'))) {
    const n = v === '' ? NaN : Number(v);
    if ((INTEGER_KEYS as readonly string[]).includes(k)) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`VIRTBENCH_RUBIS: ${k} must be a positive integer (got '${v}')`);
    } else if ((SECONDS_KEYS as readonly string[]).includes(k)) {
      const zeroOk = k === 'thinkMeanS' || k === 'warmupS';
      if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) throw new Error(`VIRTBENCH_RUBIS: ${k} must be a number of seconds${zeroOk ? '' : ' above 0'} (got '${v}')`);
    } else {
      throw new Error(`VIRTBENCH_RUBIS: unsupported key '${k}' (use ${[...INTEGER_KEYS, ...SECONDS_KEYS].join(', ')})`);
    }
    client[k as keyof RubisClient] = n;
  }
  return { ...base, client };
}

/** Items per category in RUBiS's category file (eBay, 2001): categories are drawn with these weights. */
const CATEGORY_WEIGHTS = [1374, 2691, 259, 2874, 538, 7521, 664, 586, 1077, 976, 2325, 1051, 1420, 170, 1069, 3029, 305, 242, 3671, 825];
const REGIONS = 62;

export function validateData(d: RubisData): string[] {
  const bad: string[] = [];
  for (const [k, v] of Object.entries(d)) if (!Number.isInteger(v) || v < 1) bad.push(`${k} must be a positive integer (got ${v})`);
  return bad;
}

/**
 * SQL that fills the schema with generated data, in the database itself (MariaDB's sequence
 * engine: no file to move, seconds at smoke). Every random value is a hash of (seed, column, row),
 * so a seed gives the same database whatever the order rows are written in. Proportions as RUBiS's
 * generator: 80% of items unique (else up to 10), 40% with a reserve price, 10% with buy-now,
 * 0..max bids per item and 0..max comments per user, sellers and bidders uniform over users.
 */
export function populateSql(d: RubisData, seed: number): string {
  const bad = validateData(d);
  if (bad.length) throw new Error(`rubis data: ${bad.join('; ')}`);
  // MD5, not CRC32: CRC32 is linear, so values of neighbouring keys and rows come out correlated
  const r = (key: string, ...cols: string[]) => `(CONV(LEFT(MD5(CONCAT('${seed}:${key}'${cols.map((c) => `, ':', ${c}`).join('')})), 8), 16, 10) / 4294967296.0)`;
  const total = CATEGORY_WEIGHTS.reduce((a, b) => a + b, 0);
  let acc = 0;
  const ranges = CATEGORY_WEIGHTS.map((w, i) => {
    const lo = acc / total;
    acc += w;
    return `(${i + 1}, ${lo}, ${i === CATEGORY_WEIGHTS.length - 1 ? 2 : acc / total})`;
  });
  const text = (phrase: string, max: number, lenExpr: string) => `LEFT(REPEAT('${phrase}', ${Math.ceil(max / phrase.length)}), 1 + FLOOR(${lenExpr} * ${max}))`;
  const allItems = d.items + d.oldItems;
  const itemRows = (table: string, first: number, count: number, active: boolean) => {
    const id = `(seq + ${first - 1})`;
    const price = `ROUND(1 + ${r('price', id)} * 999, 2)`;
    const end = active ? `@now + INTERVAL (60 + FLOOR(${r('end', id)} * 604800)) SECOND` : `@now - INTERVAL (60 + FLOOR(${r('end', id)} * 2592000)) SECOND`;
    return `INSERT INTO ${table} (id, name, description, initial_price, quantity, reserve_price, buy_now, nb_of_bids, max_bid, start_date, end_date, seller, category)
SELECT ${id}, CONCAT('Item ', ${id}), ${text('A fine item, exactly as described, shipped with care. ', d.descriptionMax, r('desc', id))},
  ${price},
  IF(${r('unique', id)} < 0.8, 1, 1 + FLOOR(${r('qty', id)} * 10)),
  IF(${r('reserve', id)} < 0.4, ROUND(${price} * (1.1 + ${r('reserve2', id)}), 2), 0),
  IF(${r('buynow', id)} < 0.1, ROUND(${price} * (1.5 + ${r('buynow2', id)}), 2), 0),
  FLOOR(${r('bids', id)} * ${d.maxBidsPerItem + 1}), 0,
  (${end}) - INTERVAL 7 DAY, ${end},
  1 + FLOOR(${r('seller', id)} * ${d.users}),
  (SELECT c.id FROM cat_range c WHERE ${r('cat', id)} >= c.lo AND ${r('cat', id)} < c.hi)
FROM seq_1_to_${count};`;
  };
  const bidRows = (table: string) => `INSERT INTO bids (user_id, item_id, qty, bid, max_bid, date)
SELECT 1 + FLOOR(${r('bidder', 'i.id', 's.seq')} * ${d.users}), i.id, 1,
  ROUND(i.initial_price + s.seq * (1 + i.initial_price * 0.05), 2), ROUND(i.initial_price + s.seq * (1 + i.initial_price * 0.05) * 1.1, 2),
  i.start_date + INTERVAL s.seq HOUR
FROM ${table} i JOIN seq_1_to_${d.maxBidsPerItem} s ON s.seq <= i.nb_of_bids;
UPDATE ${table} SET max_bid = IF(nb_of_bids > 0, ROUND(initial_price + nb_of_bids * (1 + initial_price * 0.05), 2), 0);`;
  return `-- generated by virtbench (workloads/rubis.ts populateSql), seed ${seed}
SET @now = NOW();
SET SESSION unique_checks = 0;
INSERT INTO categories (id, name) SELECT seq, CONCAT('Category ', seq) FROM seq_1_to_${CATEGORY_WEIGHTS.length};
INSERT INTO regions (id, name) SELECT seq, CONCAT('Region ', seq) FROM seq_1_to_${REGIONS};
CREATE TEMPORARY TABLE cat_range (id INT PRIMARY KEY, lo DOUBLE, hi DOUBLE);
INSERT INTO cat_range VALUES ${ranges.join(', ')};
INSERT INTO users (id, firstname, lastname, nickname, password, email, rating, balance, creation_date, region)
SELECT seq, CONCAT('First', seq), CONCAT('Last', seq), CONCAT('user', seq), CONCAT('pw', seq), CONCAT('user', seq, '@rubis.test'), 0, 0,
  @now - INTERVAL FLOOR(${r('age', 'seq')} * 31536000) SECOND, 1 + FLOOR(${r('region', 'seq')} * ${REGIONS})
FROM seq_1_to_${d.users};
${itemRows('items', 1, d.items, true)}
${itemRows('old_items', d.items + 1, d.oldItems, false)}
ALTER TABLE items AUTO_INCREMENT = ${allItems + 1};
${bidRows('items')}
${bidRows('old_items')}
INSERT INTO comments (from_user_id, to_user_id, item_id, rating, date, comment)
SELECT 1 + FLOOR(${r('from', 'u.id', 's.seq')} * ${d.users}), u.id, 1 + FLOOR(${r('citem', 'u.id', 's.seq')} * ${allItems}),
  FLOOR(${r('rating', 'u.id', 's.seq')} * 11) - 5, u.creation_date + INTERVAL s.seq DAY,
  ${text('Smooth deal, would trade again. ', d.commentMax, r('clen', 'u.id', 's.seq'))}
FROM users u JOIN seq_1_to_${d.maxCommentsPerUser} s ON s.seq <= FLOOR(${r('ncomments', 'u.id')} * ${d.maxCommentsPerUser + 1});
UPDATE users u JOIN (SELECT to_user_id, SUM(rating) AS total FROM comments GROUP BY to_user_id) c ON c.to_user_id = u.id SET u.rating = c.total;
INSERT INTO ids (category, region, users, item, comment, bid, buyNow)
SELECT ${CATEGORY_WEIGHTS.length}, ${REGIONS}, ${d.users}, ${allItems}, (SELECT COUNT(*) FROM comments), (SELECT COUNT(*) FROM bids), 0;
`;
}

/** What client.php reads. */
export function clientConfig(o: { host: string; port: number; mixName: MixName; mix: Mix; p: RubisParams; seed: number }): Record<string, unknown> {
  return {
    target: { host: o.host, port: o.port, base: '' },
    mixName: o.mixName,
    mix: o.mix,
    seed: o.seed,
    ...o.p.client,
    db: { users: o.p.data.users, items: o.p.data.items, categories: CATEGORY_WEIGHTS.length, regions: REGIONS },
  };
}

export interface ClientResult {
  windowS: number;
  requests: number;
  errors: number;
  throughputRps: number;
  latencyMs?: { mean: number; p50: number; p95: number; p99: number; max: number };
  sessions: number;
  interactions: Record<string, { count: number; errors: number }>;
  firstError?: string;
}

/** The emulator's summary (see client.php emulate()). */
export function parseClientOutput(text: string): ClientResult {
  if (!/^rubis-client 1 /m.test(text)) throw new Error('no rubis-client summary in the client output');
  const num = (key: string): number => {
    const m = text.match(new RegExp(`^${key} (\\S+)$`, 'm'));
    if (!m) throw new Error(`rubis client output has no '${key}' line`);
    const v = Number(m[1]);
    if (!Number.isFinite(v)) throw new Error(`rubis client output: '${key}' is not a number`);
    return v;
  };
  const res: ClientResult = {
    windowS: num('window_s'),
    requests: num('requests'),
    errors: num('errors'),
    throughputRps: num('throughput_rps'),
    sessions: num('sessions'),
    interactions: {},
  };
  const lat = text.match(/^latency_ms mean (\S+) p50 (\S+) p95 (\S+) p99 (\S+) max (\S+)$/m);
  if (lat) res.latencyMs = { mean: Number(lat[1]), p50: Number(lat[2]), p95: Number(lat[3]), p99: Number(lat[4]), max: Number(lat[5]) };
  for (const m of text.matchAll(/^interaction (\w+) (\d+) (\d+)$/gm)) res.interactions[m[1]!] = { count: Number(m[2]), errors: Number(m[3]) };
  const fe = text.match(/^first_error (.+)$/m);
  if (fe) res.firstError = fe[1];
  return res;
}

/** The run's metrics; a run in which no request succeeded is an error naming the first failure. */
export function rubisMetrics(r: ClientResult): Metric[] {
  if (!r.latencyMs || r.requests === r.errors) {
    throw new Error(`rubis: no request succeeded (${r.requests} sent${r.firstError ? `; first failure: ${r.firstError}` : ''})`);
  }
  return [
    { metric: 'throughput', unit: 'req/s', better: 'higher', value: r.throughputRps },
    { metric: 'latency-mean', unit: 'ms', better: 'lower', value: r.latencyMs.mean },
    { metric: 'latency-p50', unit: 'ms', better: 'lower', value: r.latencyMs.p50 },
    { metric: 'latency-p95', unit: 'ms', better: 'lower', value: r.latencyMs.p95 },
    { metric: 'latency-p99', unit: 'ms', better: 'lower', value: r.latencyMs.p99 },
    { metric: 'errors', unit: 'requests', better: 'lower', value: r.errors },
  ];
}

/** Apache's whole configuration for the web tier: private port, pid file, logs; nothing of /etc/apache2 but modules. */
export function apacheConf(o: { dir: string; address: string; port: number; workers: number; dbHost: string; dbPort: number; phpModule: string }): string {
  const mod = (name: string, file: string) => `LoadModule ${name}_module /usr/lib/apache2/modules/${file}`;
  return [
    `ServerRoot ${o.dir}`,
    'ServerName rubis',
    `Listen ${o.address}:${o.port}`,
    `PidFile ${o.dir}/httpd.pid`,
    `DefaultRuntimeDir ${o.dir}`,
    `ErrorLog ${o.dir}/error.log`,
    'LogLevel warn',
    mod('mpm_prefork', 'mod_mpm_prefork.so'),
    mod('authz_core', 'mod_authz_core.so'),
    mod('dir', 'mod_dir.so'),
    mod('mime', 'mod_mime.so'),
    mod('env', 'mod_env.so'),
    `LoadModule php_module ${o.phpModule}`,
    'User www-data',
    'Group www-data',
    'TypesConfig /etc/mime.types',
    // one connection per request, as RUBiS's emulator makes them; prefork as Debian's mod_php needs
    'KeepAlive Off',
    'StartServers 8',
    'MinSpareServers 8',
    'MaxSpareServers 32',
    `MaxRequestWorkers ${o.workers}`,
    `ServerLimit ${o.workers}`,
    `DocumentRoot ${o.dir}/www`,
    'DirectoryIndex index.html',
    `<Directory ${o.dir}/www>`,
    '  Require all granted',
    '  <FilesMatch "\\.php$">',
    '    SetHandler application/x-httpd-php',
    '  </FilesMatch>',
    '</Directory>',
    `SetEnv RUBIS_DB_HOST ${o.dbHost}`,
    `SetEnv RUBIS_DB_PORT ${o.dbPort}`,
    '',
  ].join('\n');
}

interface Deployment {
  web: { host: string; port: number; server: Server };
  db: { host: string; port: number; server: Server };
  client: Guest;
  dir: string;
}

const deployments = new WeakMap<Guest, Deployment>();

/** Start a server, trying the next port of the guest when the first one is taken (bare metal shares ports with the host). */
async function startOnFreePort(
  guest: Guest,
  service: string,
  script: (port: number) => string,
  ready: (port: number, server: Server) => Promise<void>,
): Promise<{ port: number; server: Server }> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = portFor(guest.name, service, attempt);
    if (await tcpOpen(addressOf(guest), port, 500)) continue;
    const server = startServer(guest, script(port));
    try {
      await ready(port, server);
      return { port, server };
    } catch (err) {
      last = err;
      server.proc.kill('SIGKILL');
      await guest.killAll().catch(() => undefined);
      if (!/already in use|bind/i.test(String((err as Error).message))) break;
    }
  }
  throw last ?? new Error(`no free port for ${service} in guest ${guest.name}`);
}

async function startDatabase(db: Guest, p: RubisParams, seed: number, ctx: RunContext): Promise<{ host: string; port: number; server: Server }> {
  await ensureCommands(db, [{ command: 'mariadbd', pkg: 'mariadb-server' }, { command: 'mariadb', pkg: 'mariadb-client' }], { signal: ctx.signal, log: ctx.log });
  const dir = `${db.workdir}/rubis-db`;
  const host = addressOf(db);
  const $db = guestShell(db, { signal: ctx.signal, timeoutMs: 60_000 });
  await $db`rm -rf ${dir} && mkdir -p ${dir}`;
  await db.pushFile(join(ASSETS, 'schema.sql'), `${dir}/schema.sql`);
  const tmp = await mkdtemp(join(tmpdir(), 'vb-rubis-'));
  try {
    await writeFile(join(tmp, 'populate.sql'), populateSql(p.data, seed));
    await db.pushFile(join(tmp, 'populate.sql'), `${dir}/populate.sql`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  // --force: a guest image has no /etc/hosts entry for its host name (not even localhost), and
  // install-db refuses to run when it cannot resolve one; the server itself never resolves names
  await $db({ timeoutMs: 120_000 })`mariadb-install-db --no-defaults --datadir=${dir}/data --user=root --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve --force > ${dir}/install.log 2>&1 || { grep -v '^$' ${dir}/install.log | head -4; exit 1; }`;
  const bufferPool = Math.max(64, Math.floor(db.spec.memoryBytes / 4 / 1024 ** 2));
  const sock = `${dir}/mysqld.sock`;
  const { port, server } = await startOnFreePort(
    db,
    'mysql',
    (port) =>
      shellLine`exec mariadbd --no-defaults --datadir=${dir}/data --user=root --socket=${sock} --pid-file=${dir}/mysqld.pid ` +
      shellLine`--port=${port} --bind-address=${host} --skip-name-resolve --log-error=${dir}/error.log --innodb-buffer-pool-size=${bufferPool}M --max-connections=${p.webWorkers + 50}`,
    async (port, server) =>
      waitUntilReady(
        `mariadbd in guest ${db.name} at ${host}:${port}`,
        server,
        async () => (await $db({ timeoutMs: 10_000 })`mariadb-admin --socket=${sock} -uroot ping`.nothrow()).exitCode === 0,
        READY_TIMEOUT_MS,
        ctx.signal,
      ).catch(async (err) => {
        const log = await $db({ timeoutMs: 5000 })`tail -3 ${dir}/error.log`.nothrow().text();
        throw new Error(`${(err as Error).message}${log ? `: ${log.split('\n').join(' | ')}` : ''}`);
      }),
  );
  const t0 = Date.now();
  const loaded = await $db({ timeoutMs: ctx.timeoutS * 1000 })`set -e; m() { mariadb --socket=${sock} -uroot "$@"; }
m -e "CREATE DATABASE rubis; CREATE USER 'rubis'@'%' IDENTIFIED BY 'rubis'; GRANT ALL ON rubis.* TO 'rubis'@'%';"
m rubis < ${dir}/schema.sql
m rubis < ${dir}/populate.sql
m rubis -N -e "SELECT CONCAT('users=', COUNT(*)) FROM users; SELECT CONCAT('items=', COUNT(*)) FROM items; SELECT CONCAT('bids=', COUNT(*)) FROM bids"`.text();
  ctx.log(`rubis: database loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s (${loaded.split('\n').join(', ')})`);
  return { host, port, server };
}

async function startWeb(web: Guest, p: RubisParams, db: { host: string; port: number }, ctx: RunContext): Promise<{ host: string; port: number; server: Server; dir: string }> {
  await ensureCommands(web, [{ command: 'apache2', pkg: 'apache2' }, { command: 'php', pkg: 'libapache2-mod-php' }], { signal: ctx.signal, log: ctx.log });
  const dir = `${web.workdir}/rubis-web`;
  const host = addressOf(web);
  await guestShell(web, { signal: ctx.signal, timeoutMs: 60_000 })`rm -rf ${dir} && mkdir -p ${dir}`;
  await web.pushFile(join(ASSETS, 'www'), `${dir}/www`);
  const mod = await web.sh(
    'ls /usr/lib/apache2/modules/libphp*.so 2>/dev/null | head -1; php -m | grep -qx mysqli || echo no-mysqli',
    { signal: ctx.signal, timeoutMs: 30_000 },
  );
  const phpModule = mod.stdout.split('\n')[0]?.trim();
  if (!phpModule) throw new Error(`no PHP module for Apache in guest ${web.name} (package libapache2-mod-php)`);
  if (mod.stdout.includes('no-mysqli')) throw new Error(`PHP in guest ${web.name} has no mysqli (package php-mysql)`);
  const { port, server } = await startOnFreePort(
    web,
    'http',
    (port) =>
      shellLine`cat > ${dir}/httpd.conf <<'VB_EOF'` +
      `\n${apacheConf({ dir, address: host, port, workers: p.webWorkers, dbHost: db.host, dbPort: db.port, phpModule })}VB_EOF\n` +
      shellLine`exec apache2 -f ${dir}/httpd.conf -DFOREGROUND`,
    async (port, server) => waitUntilReady(`apache2 in guest ${web.name} at ${host}:${port}`, server, () => tcpOpen(host, port, 500), READY_TIMEOUT_MS, ctx.signal),
  );
  return { host, port, server, dir };
}

export interface RubisConfig {
  name?: string;
  mix?: MixName;
}

export function rubis(config: RubisConfig = {}): Workload {
  const mixName = config.mix ?? 'bidding';
  return {
    name: config.name ?? 'rubis',
    resource: 'network',
    description: `RUBiS-like auction site, ${mixName} mix: Apache+PHP web tier (measured), MariaDB tier, client emulator tier`,
    estimatedSeconds: { smoke: 40, quick: 400, paper: 3000 },
    metrics: [
      { metric: 'throughput', unit: 'req/s', better: 'higher' },
      { metric: 'latency-mean', unit: 'ms', better: 'lower' },
      { metric: 'latency-p50', unit: 'ms', better: 'lower' },
      { metric: 'latency-p95', unit: 'ms', better: 'lower' },
      { metric: 'latency-p99', unit: 'ms', better: 'lower' },
      { metric: 'errors', unit: 'requests', better: 'lower' },
    ],
    guestPackages: ['apache2', 'libapache2-mod-php', 'php-mysql', 'mariadb-server', 'mariadb-client'],
    hostPackages: ['apache2', 'libapache2-mod-php', 'php-mysql', 'mariadb-server', 'mariadb-client'],
    tiers: ['db', 'client'],
    async setup(web: Guest, ctx: RunContext) {
      const dbGuest = ctx.tiers.db;
      const client = ctx.tiers.client;
      if (!dbGuest || !client) throw new Error('rubis needs its db and client tiers (the runner provisions them from Workload.tiers)');
      // a bad override or a broken table fails before anything starts
      const p = rubisParamsFor(ctx.profile.name);
      loadMix(mixName);
      const seed = 1;
      const db = await startDatabase(dbGuest, p, seed, ctx);
      const w = await startWeb(web, p, db, ctx);
      await ensureCommands(client, [{ command: 'php', pkg: 'php-cli' }], { signal: ctx.signal, log: ctx.log });
      const cdir = `${client.workdir}/rubis-client`;
      const $client = guestShell(client, { signal: ctx.signal, timeoutMs: 30_000 });
      await $client({ timeoutMs: 60_000 })`rm -rf ${cdir} && mkdir -p ${cdir}`;
      await client.pushFile(join(ASSETS, 'client.php'), `${cdir}/client.php`);
      // the whole path (client -> web -> database) answers before the measured run starts
      const php = `echo @file_get_contents("http://${w.host}:${w.port}/BrowseCategories.php") === false ? "down" : "up";`;
      if ((await $client`php -r ${php}`.text()) !== 'up') {
        const log = await guestShell(web, { timeoutMs: 5000 })`tail -3 ${w.dir}/error.log`.nothrow().text();
        throw new Error(`rubis: the web tier at ${w.host}:${w.port} does not serve BrowseCategories.php: ${log.split('\n').join(' | ') || 'no error log'}`);
      }
      deployments.set(web, { web: { host: w.host, port: w.port, server: w.server }, db, client, dir: cdir });
    },
    async run(web: Guest, ctx: RunContext): Promise<RunResult> {
      const d = deployments.get(web);
      if (!d) throw new Error(`rubis: run() before setup() for guest ${web.name}`);
      for (const [what, s] of [['apache2', d.web.server], ['mariadbd', d.db.server]] as const) {
        const ended = s.exited();
        if (ended !== undefined) throw new Error(`rubis: ${what} ${ended}`);
      }
      const p = rubisParamsFor(ctx.profile.name);
      const cfg = clientConfig({ host: d.web.host, port: d.web.port, mixName, mix: loadMix(mixName), p, seed: Date.now() % 2 ** 31 });
      const out = await d.client.sh(shellLine`cat > ${d.dir}/config.json <<'VB_EOF'` + `\n${JSON.stringify(cfg)}\nVB_EOF\n` + shellLine`php ${d.dir}/client.php ${d.dir}/config.json`, {
        signal: ctx.signal,
        timeoutMs: ctx.timeoutS * 1000,
      });
      const res = parseClientOutput(out.stdout);
      ctx.log(`rubis: ${res.requests} requests, ${res.errors} errors, ${res.sessions} sessions${res.firstError ? `; first error: ${res.firstError}` : ''}`);
      return { metrics: rubisMetrics(res), raw: [{ name: 'rubis-client.txt', text: out.stdout }] };
    },
  };
}

export default rubis();
