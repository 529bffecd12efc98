import test from 'ava';
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RUBIS_PROFILES,
  STATES,
  WRITE_STATES,
  apacheConf,
  clientConfig,
  loadMix,
  parseClientOutput,
  parseTransitions,
  populateSql,
  rubisMetrics,
  rubisParamsFor,
  type MixName,
} from '../../workloads/rubis.ts';
import { tempDir } from '../tmp.ts';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/rubis/${f}`, import.meta.url), 'utf8');
const CLIENT = fileURLToPath(new URL('../../workloads/rubis/client.php', import.meta.url));
const TRANSITIONS = 4_000_000;

/** Runs the emulator's own state machine (client.php, the code the client guest runs) with no HTTP. */
async function simulate(mixName: MixName, seed: number, n = TRANSITIONS) {
  const dir = tempDir('vb-rubis-test-');
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify(clientConfig({ host: '127.0.0.1', port: 9, mixName, mix: loadMix(mixName), p: RUBIS_PROFILES.smoke, seed })));
  const r = await execa('php', [CLIENT, cfg, 'simulate', String(n)]);
  return JSON.parse(r.stdout) as { transitions: number; sessions: number; counts: Record<string, Record<string, number>> };
}

for (const mixName of ['bidding', 'browsing'] as const) {
  test(`client emulator: ${mixName} mix follows the transition table within 2% (${TRANSITIONS} transitions, seeded)`, async (t) => {
    const mix = loadMix(mixName);
    const sim = await simulate(mixName, 12345);
    t.deepEqual(Object.keys(sim.counts).sort(), Object.keys(mix).sort(), 'every interaction of the mix is visited, and no other');
    let worst = 0;
    for (const [from, row] of Object.entries(mix)) {
      const seen = sim.counts[from]!;
      const visits = Object.values(seen).reduce((a, b) => a + b, 0);
      t.true(visits >= 1000, `${from} visited only ${visits} times`);
      // a session longer than maxTransitions (1000) ends without drawing from the table
      const drawn = visits - (seen.MaxTransitions ?? 0);
      for (const [to, p] of row) {
        const got = (seen[to] ?? 0) / drawn;
        worst = Math.max(worst, Math.abs(got - p));
        t.true(Math.abs(got - p) <= 0.02, `${from} -> ${to}: ${got.toFixed(4)} vs ${p}`);
      }
      for (const to of Object.keys(seen)) t.true(to === 'MaxTransitions' || row.some(([x]) => x === to), `${from} -> ${to} is not in the table`);
    }
    const total = Object.values(sim.counts).reduce((s, c) => s + Object.values(c).reduce((a, b) => a + b, 0), 0);
    const writes = WRITE_STATES.reduce((s, w) => s + Object.values(sim.counts[w] ?? {}).reduce((a, b) => a + b, 0), 0) / total;
    t.log(`${mixName}: largest deviation ${(worst * 100).toFixed(2)} points; ${sim.sessions} sessions; read-write interactions ${(writes * 100).toFixed(1)}%`);
    if (mixName === 'browsing') t.is(writes, 0);
    else t.true(writes > 0.12 && writes < 0.17, `read-write share ${writes} (RUBiS's bidding mix: 15%)`);
  });
}

test('client emulator: sessions end at End or after maxTransitions', async (t) => {
  const sim = await simulate('bidding', 1, 200_000);
  const ends = Object.values(sim.counts).reduce((s, c) => s + (c.End ?? 0) + (c.MaxTransitions ?? 0), 0);
  t.is(sim.sessions, ends + 1);
  // with these tables a session averages a few dozen transitions: the 1000 cap is rare
  t.true(sim.transitions / sim.sessions > 5 && sim.transitions / sim.sessions < 100);
});

test('transition tables: the bidding mix has all 27 RUBiS interactions, browsing only read-only ones', (t) => {
  t.is(STATES.length, 27);
  t.deepEqual(Object.keys(loadMix('bidding')).sort(), [...STATES].sort());
  const browsing = Object.keys(loadMix('browsing'));
  t.false(browsing.some((s) => WRITE_STATES.includes(s)));
});

test('transition tables: bad rows are rejected with their line', (t) => {
  t.throws(() => parseTransitions('[x]\nHome -> Browse 0.5, End 0.4\nBrowse -> Home 1'), { message: /line 2: probabilities of Home sum to 0.9/ });
  t.throws(() => parseTransitions('[x]\nHome -> Nowhere 1'), { message: /line 2: unknown interaction Nowhere/ });
  t.throws(() => parseTransitions('[x]\nHome -> Browse 1'), { message: /Home leads to Browse, which has no row/ });
  t.throws(() => parseTransitions('Home -> End 1'), { message: /before any \[mix\]/ });
  t.throws(() => parseTransitions('[x]\nBrowse -> End 1'), { message: /no Home row/ });
  t.throws(() => parseTransitions('[x]\nHome -> End 1\nHome -> End 1'), { message: /a second row for Home/ });
});

test('client output (captured, bidding smoke against Apache+MariaDB): throughput, latency percentiles, per-interaction counts', (t) => {
  const r = parseClientOutput(fixture('client-bidding-smoke.txt'));
  t.is(r.windowS, 5);
  t.is(r.requests, 596);
  t.is(r.errors, 0);
  t.is(r.throughputRps, 119.2);
  t.deepEqual(r.latencyMs, { mean: 2.285, p50: 2.074, p95: 4.781, p99: 14.919, max: 26.459 });
  t.is(r.sessions, 82);
  t.deepEqual(r.interactions.StoreBid, { count: 23, errors: 0 });
  t.is(Object.values(r.interactions).reduce((s, i) => s + i.count, 0), 596);
  t.is(r.firstError, undefined);
  const m = rubisMetrics(r);
  t.deepEqual(
    m.map((x) => [x.metric, x.value]),
    [['throughput', 119.2], ['latency-mean', 2.285], ['latency-p50', 2.074], ['latency-p95', 4.781], ['latency-p99', 14.919], ['errors', 0]],
  );
});

test('client output (captured): browsing mix, and a run whose database went away counts its errors', (t) => {
  const b = parseClientOutput(fixture('client-browsing-smoke.txt'));
  t.is(b.requests, 592);
  t.false(Object.keys(b.interactions).some((s) => WRITE_STATES.includes(s)));
  const down = parseClientOutput(fixture('client-bidding-db-down.txt'));
  t.is(down.errors, 235);
  t.regex(down.firstError ?? '', /HTTP 500/);
  t.is(rubisMetrics(down).find((m) => m.metric === 'errors')?.value, 235);
});

test('client output: no summary, a missing line, or no successful request are errors', (t) => {
  t.throws(() => parseClientOutput('PHP Fatal error: ...'), { message: /no rubis-client summary/ });
  const text = fixture('client-bidding-smoke.txt');
  t.throws(() => parseClientOutput(text.replace(/^errors .*\n/m, '')), { message: /no 'errors' line/ });
  const allFailed = 'rubis-client 1 mix=bidding users=1 think_mean_s=0.2\nwindow_s 1\nrequests 3\nerrors 3\nthroughput_rps 0\nsessions 1\nfirst_error Home /index.html: connect: Connection refused\n';
  t.throws(() => rubisMetrics(parseClientOutput(allFailed)), { message: /no request succeeded \(3 sent; first failure: Home \/index.html: connect: Connection refused\)/ });
});

test('data generator: sizes from the profile, a seed in every value, bad sizes rejected', (t) => {
  const d = RUBIS_PROFILES.smoke.data;
  const sql = populateSql(d, 7);
  t.regex(sql, new RegExp(`FROM seq_1_to_${d.users};`));
  t.regex(sql, new RegExp(`FROM seq_1_to_${d.items};`));
  t.regex(sql, new RegExp(`FROM seq_1_to_${d.oldItems};`));
  t.regex(sql, new RegExp(`AUTO_INCREMENT = ${d.items + d.oldItems + 1}`), 'new items never take an old item id');
  t.notRegex(sql, /RAND\(/, 'values are hashes of (seed, column, row), not RAND()');
  t.not(populateSql(d, 8), sql);
  t.throws(() => populateSql({ ...d, users: 0 }, 1), { message: /users must be a positive integer/ });
});

test('Apache configuration: private address, port, pid file and logs; database address passed to PHP', (t) => {
  const c = apacheConf({ dir: '/w', address: '10.213.77.10', port: 23456, workers: 48, dbHost: '10.213.77.11', dbPort: 34567, phpModule: '/usr/lib/apache2/modules/libphp8.2.so' });
  t.regex(c, /^Listen 10\.213\.77\.10:23456$/m);
  t.regex(c, /^PidFile \/w\/httpd\.pid$/m);
  t.regex(c, /^SetEnv RUBIS_DB_HOST 10\.213\.77\.11$/m);
  t.regex(c, /^MaxRequestWorkers 48$/m);
  t.notRegex(c, /Include|\/etc\/apache2/);
});

test('VIRTBENCH_RUBIS overrides the client of a profile; bad values and unknown keys are errors naming them', (t) => {
  const p = rubisParamsFor('smoke', 'users=400, thinkMeanS=0, measureS=2.5');
  t.is(p.client.users, 400);
  t.is(p.client.thinkMeanS, 0);
  t.is(p.client.measureS, 2.5);
  t.deepEqual(p.data, RUBIS_PROFILES.smoke.data);
  t.deepEqual(rubisParamsFor('paper', undefined), RUBIS_PROFILES.paper);
  t.throws(() => rubisParamsFor('smoke', 'users=0'), { message: /users must be a positive integer \(got '0'\)/ });
  t.throws(() => rubisParamsFor('smoke', 'measureS=0'), { message: /measureS must be a number of seconds above 0/ });
  t.throws(() => rubisParamsFor('smoke', 'thinkMeanS=-1'), { message: /thinkMeanS must be a number of seconds/ });
  t.throws(() => rubisParamsFor('smoke', 'mix=browsing'), { message: /unsupported key 'mix'/ });
});
