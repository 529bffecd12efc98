import test from 'ava';
import { readFileSync } from 'node:fs';
import { ycsbCommand, ycsbMetrics, ycsbOptionsFor } from '../../workloads/ycsb-redis.ts';
import { parseCliArgs } from '../../workloads/ycsb/cli.ts';
import { KeyNames, RunChooser, keyName, operationsOf, resolveOptions, validateOptions } from '../../workloads/ycsb/core-workload.ts';
import {
  AcknowledgedCounter,
  DiscreteGenerator,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformGenerator,
  ZipfianGenerator,
  fnvhash64,
  javaStringHash,
  modU64,
  seededRandom,
  u64ToString,
  zeta,
} from '../../workloads/ycsb/generators.ts';
import { decimal2, formatStatusLine, formatYcsbOutput, javaDouble, parseYcsbOutput, percentileName, remainingText } from '../../workloads/ycsb/output.ts';
import { RedisReplyError, encodeCommand, parseReply, skipReply } from '../../workloads/ycsb/resp.ts';
import { parseRedisBenchmarkCsv } from '../../workloads/ycsb/bench.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/ycsb/${name}`, import.meta.url), 'utf8');

/** YCSB's Utils.fnvhash64 with BigInt, straight from its definition (64-bit FNV, xor then multiply, Math.abs). */
function fnvReference(val: bigint): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < 8; i++) {
    h ^= val & 0xffn;
    val >>= 8n;
    h = BigInt.asIntN(64, h * 1099511628211n);
  }
  return h < 0n && h !== -(2n ** 63n) ? -h : h;
}

test('key names: "user" + FNV-64 of the insert number, as YCSB names records', (t) => {
  // keynum 0 is the first record of every YCSB load ("user6284781860667377211" in YCSB's logs)
  t.is(keyName(0), 'user6284781860667377211');
  for (const n of [1, 2, 255, 256, 65_535, 1_000_000, 123_456_789, 2 ** 31 - 1, 2 ** 40 + 17]) {
    t.is(u64ToString(fnvhash64(n)), fnvReference(BigInt(n)).toString(), `keynum ${n}`);
  }
  const names = new KeyNames();
  t.is(names.get(42), keyName(42));
  t.is(names.get(42), keyName(42));
  // 10k keys, no collisions (YCSB relies on that for its record count)
  t.is(new Set(Array.from({ length: 10_000 }, (_, i) => keyName(i))).size, 10_000);
});

test('FNV value modulo n matches the 64-bit arithmetic', (t) => {
  for (const n of [7, 1000, 1_000_003, 10_000_000_001]) {
    for (const v of [0, 1, 99, 1 << 30, 9_999_999_999]) {
      const big = fnvReference(BigInt(v));
      t.is(modU64(fnvhash64(v), n), Number(big % BigInt(n)), `${v} mod ${n}`);
    }
  }
});

test("Java's String.hashCode (the Redis binding's index score)", (t) => {
  t.is(javaStringHash(''), 0);
  t.is(javaStringHash('hello'), 99162322);
  t.is(javaStringHash('user6284781860667377211'), Number(BigInt.asIntN(32, [...'user6284781860667377211'].reduce((h, c) => h * 31n + BigInt(c.charCodeAt(0)), 0n))));
});

test('zipfian: YCSB constants, item 0 most popular, p(0)/p(1) close to 2^0.99', (t) => {
  // zeta(10^10 + 1 items, 0.99) is the constant YCSB's scrambled zipfian hard-codes
  t.is(ScrambledZipfianGenerator.ZETAN, 26.46902820178302);
  t.is(ScrambledZipfianGenerator.ITEM_COUNT, 10_000_000_000);
  const g = new ZipfianGenerator(0, 999, seededRandom(7));
  const counts = new Array<number>(1000).fill(0);
  const N = 200_000;
  for (let i = 0; i < N; i++) counts[g.next()]!++;
  t.true(counts.every((c, i) => i === 0 || c <= counts[0]!));
  const z = zeta(1000, 0.99);
  t.true(Math.abs(counts[0]! / N - 1 / z) < 0.01, `p(0)=${counts[0]! / N}, expected ${1 / z}`);
  const r = counts[0]! / counts[1]!;
  t.true(Math.abs(r - 2 ** 0.99) < 0.15, `p0/p1=${r}`);
  // the head is heavy: the 10 most popular of 1000 items get about 40% of the requests
  const top10 = counts.slice(0, 10).reduce((a, b) => a + b, 0) / N;
  t.true(top10 > 0.35 && top10 < 0.45, `top10=${top10}`);
});

test('scrambled zipfian: stays in [min, max], skewed, hot keys spread over the range', (t) => {
  const g = new ScrambledZipfianGenerator(100, 1099, seededRandom(3));
  const counts = new Map<number, number>();
  for (let i = 0; i < 100_000; i++) {
    const v = g.next();
    t.true(v >= 100 && v <= 1099);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  // the hottest item takes several percent, the median one a few hundredths of one
  t.true(sorted[0]![1] / 100_000 > 0.03, `hottest ${sorted[0]![1]}`);
  // scrambled: the ten hottest are not the ten smallest numbers
  const hot = sorted.slice(0, 10).map(([k]) => k);
  t.false(hot.every((k) => k < 110));
  // the hottest key is YCSB's: FNV of zipfian item 0, modulo the item count
  t.is(hot[0], 100 + modU64(fnvhash64(0), 1000));
});

test('uniform, skewed-latest, discrete: shapes', (t) => {
  const u = new UniformGenerator(5, 14, seededRandom(1));
  const uc = new Array<number>(20).fill(0);
  for (let i = 0; i < 100_000; i++) uc[u.next()]!++;
  t.deepEqual(uc.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  t.true(uc.slice(5, 15).every((c) => Math.abs(c - 10_000) < 600));

  const basis = new AcknowledgedCounter(1000);
  const latest = new SkewedLatestGenerator(basis, seededRandom(2));
  let newest = 0;
  for (let i = 0; i < 10_000; i++) {
    const v = latest.next();
    t.true(v >= 0 && v <= 999);
    if (v === 999) newest++;
  }
  t.true(newest > 1000, `latest key drawn ${newest} times of 10000`);
  // newly acknowledged inserts become the latest keys
  basis.acknowledge(basis.next());
  t.is(basis.lastValue(), 1000);

  const d = new DiscreteGenerator<string>([['READ', 0.5], ['UPDATE', 0.5], ['SCAN', 0]], seededRandom(5));
  let reads = 0;
  for (let i = 0; i < 100_000; i++) if (d.next() === 'READ') reads++;
  t.true(Math.abs(reads / 100_000 - 0.5) < 0.01);
});

test('acknowledged counter: only a contiguous prefix of finished inserts is readable', (t) => {
  const c = new AcknowledgedCounter(10);
  t.is(c.lastValue(), 9);
  const a = c.next();
  const b = c.next();
  c.acknowledge(b);
  t.is(c.lastValue(), 9);
  c.acknowledge(a);
  t.is(c.lastValue(), 11);
});

test('run chooser: workload A mix, keys only among loaded records, fields 0..9', (t) => {
  const o = resolveOptions({ workload: 'a', recordcount: 1000, operationcount: 10_000 });
  const ch = new RunChooser(o, seededRandom(11));
  let reads = 0;
  for (let i = 0; i < 20_000; i++) {
    if (ch.operation() === 'READ') reads++;
    const k = ch.keynum();
    t.true(k >= 0 && k < 1000);
    const f = ch.field();
    t.true(f >= 0 && f <= 9);
  }
  t.true(Math.abs(reads / 20_000 - 0.5) < 0.02);
  t.deepEqual(operationsOf('a'), ['READ', 'UPDATE']);
  t.deepEqual(operationsOf('e'), ['INSERT', 'SCAN']);
  t.deepEqual(operationsOf('f'), ['READ', 'UPDATE', 'READ-MODIFY-WRITE']);
  t.is(resolveOptions({ workload: 'D' }).requestdistribution, 'latest');
});

test('bad options are named: zero records, unknown distribution, unknown workload', (t) => {
  t.deepEqual(validateOptions(resolveOptions({ recordcount: 1000 })), []);
  t.regex(validateOptions(resolveOptions({ recordcount: 0 })).join(), /recordcount must be an integer from 1/);
  t.regex(validateOptions(resolveOptions({ requestdistribution: 'hotspot' as never })).join(), /unknown request distribution 'hotspot'/);
  t.regex(validateOptions(resolveOptions({ workload: 'z' })).join(), /unknown YCSB workload 'z'/);
  t.regex(validateOptions(resolveOptions({ threads: 0 })).join(), /threads must be/);
  t.throws(() => ycsbOptionsFor('smoke', {}, 'recordcount=5,colour=red'), { message: /unsupported key 'colour'/ });
  t.is(ycsbOptionsFor('smoke', {}, 'recordcount=500,requestdistribution=uniform').recordcount, 500);
  t.is(ycsbOptionsFor('paper', {}, undefined).recordcount, 1_000_000);
});

test('command line: Java YCSB style arguments', (t) => {
  const a = parseCliArgs(['run', '-s', '-p', 'redis.host=10.0.0.2', '-p', 'redis.port=7000', '-p', 'workload=b', '-p', 'recordcount=50', '-threads', '4', '-target', '100']);
  t.is(a.phase, 'run');
  t.is(a.host, '10.0.0.2');
  t.is(a.port, 7000);
  t.true(a.status);
  t.is(a.options.workload, 'b');
  t.is(a.options.threads, 4);
  t.is(a.options.target, 100);
  t.throws(() => parseCliArgs(['transaction']), { message: /'load' or 'run'/ });
  t.throws(() => parseCliArgs(['run', '-p', 'colour=red']), { message: /unsupported property 'colour'/ });
  const cmd = ycsbCommand('load', resolveOptions({ recordcount: 10 }), '10.1.2.3', 6000, '/nonexistent');
  t.is(cmd.client, 'virtbench TypeScript YCSB client');
  t.true(cmd.args.includes('redis.host=10.1.2.3'));
});

test('RESP: encoding, replies split across chunks, errors, shapes only', (t) => {
  t.is(encodeCommand(['HGETALL', 'user1']).toString(), '*2\r\n$7\r\nHGETALL\r\n$5\r\nuser1\r\n');
  t.is(encodeCommand(['SET', 'k', Buffer.from('é')]).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n');
  const reply = Buffer.from('*4\r\n$6\r\nfield0\r\n$3\r\nabc\r\n$6\r\nfield1\r\n$-1\r\n+OK\r\n');
  const full = parseReply(reply, 0);
  if (typeof full === 'symbol') return t.fail();
  t.deepEqual((full.value as Array<Buffer | null>).map((b) => (b === null ? null : b.toString())), ['field0', 'abc', 'field1', null]);
  t.deepEqual(parseReply(reply, full.end), { value: 'OK', end: reply.length });
  // every cut inside the array reply asks for more bytes
  for (let cut = 1; cut < full.end; cut++) t.is(typeof parseReply(reply.subarray(0, cut), 0), 'symbol', `cut at ${cut}`);
  const shape = skipReply(reply, 0);
  t.deepEqual(shape, { value: 4, end: full.end });
  t.deepEqual(parseReply(Buffer.from(':-42\r\n'), 0), { value: -42, end: 6 });
  const err = parseReply(Buffer.from('-WRONGTYPE Operation against a key\r\n'), 0);
  t.true(typeof err !== 'symbol' && err.value instanceof RedisReplyError && /WRONGTYPE/.test(err.value.message));
  t.throws(() => parseReply(Buffer.from('?x\r\n'), 0), { message: /unexpected byte/ });
});

test('Java number and percentile text as YCSB prints them', (t) => {
  t.is(javaDouble(0), '0.0');
  t.is(javaDouble(5), '5.0');
  t.is(javaDouble(373.5104615310786), '373.5104615310786');
  t.is(javaDouble(12_345_678.5), '1.23456785E7');
  t.is(javaDouble(0.0005), '5.0E-4');
  t.is(percentileName(95), '95th');
  t.is(percentileName(99), '99th');
  t.is(percentileName(99.9), '99.9');
  t.is(percentileName(1), '1st');
  t.is(percentileName(12), '12th');
});

const REAL = 'ycsb-0.17.0-go-redis-server-workloada-run.txt';

test('our measurement lines are line for line those of real YCSB 0.17.0 output given its numbers', (t) => {
  const text = formatYcsbOutput({
    runtimeMs: 235,
    operationsDone: 1000,
    gc: { count: 0, timeMs: 0 },
    ops: [
      { name: 'READ', operations: 479, averageUs: 146.53653444676408, minUs: 83, maxUs: 13207, percentiles: [[95, 173], [99, 298]], returns: [['OK', 479]] },
      // YCSB prints no Return= line for CLEANUP
      { name: 'CLEANUP', operations: 1, averageUs: 688, minUs: 688, maxUs: 688, percentiles: [[95, 688], [99, 688]], returns: [] },
      { name: 'UPDATE', operations: 521, averageUs: 208.4721689059501, minUs: 174, maxUs: 934, percentiles: [[95, 252], [99, 319]], returns: [['OK', 521]] },
    ],
  });
  // the Java client's measurement lines, minus its per-collector GC lines (a JVM detail)
  const java = fixture(REAL)
    .split('\n')
    .filter((l) => l.startsWith('[') && !/^\[TOTAL_GC(S|_TIME|_TIME_%)_G1/.test(l))
    .join('\n');
  t.is(text.trimEnd(), java);
});

test('our status lines are those of real YCSB 0.17.0 given its numbers (per-operation interval blocks)', (t) => {
  const lines = fixture(REAL).split('\n');
  const stamp = (s: string) => {
    const m = s.match(/^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+):(\d+)/)!;
    return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7]));
  };
  t.is(formatStatusLine({ now: stamp(lines[5]!), elapsedMs: 0, operations: 0, currentOpsPerSec: 0, todo: 1000, blocks: [] }), lines[5]!);
  const last = formatStatusLine({
    now: stamp(lines[6]!),
    elapsedMs: 235,
    operations: 1000,
    currentOpsPerSec: 4255.31914893617,
    todo: 0,
    blocks: [
      { name: 'READ', count: 479, maxUs: 13207, minUs: 83, avgUs: 146.53653444676408, p90: 153, p99: 298, p999: 13207, p9999: 13207 },
      { name: 'CLEANUP', count: 1, maxUs: 688, minUs: 688, avgUs: 688, p90: 688, p99: 688, p999: 688, p9999: 688 },
      { name: 'UPDATE', count: 521, maxUs: 934, minUs: 174, avgUs: 208.4721689059501, p90: 236, p99: 319, p999: 512, p9999: 934 },
    ],
  });
  t.is(last, lines[6]!);
  t.is(remainingText(16), '16 seconds ');
  t.is(remainingText(5), '5 second ');
  t.is(remainingText(125), '2 minutes ');
  t.is(remainingText(3 * 86400 + 7200 + 60), '3 days 2 hours ');
  t.is(decimal2(382.549), '382.55');
  t.is(decimal2(688), '688');
});

test('one parser reads real Java YCSB output (status lines and all) and ours', (t) => {
  const java = parseYcsbOutput(fixture(REAL));
  t.is(java.runtimeMs, 235);
  t.is(java.throughput, 4255.31914893617);
  t.deepEqual(Object.keys(java.operations).sort(), ['CLEANUP', 'READ', 'UPDATE']);
  t.deepEqual(java.operations.READ, {
    operations: 479,
    averageUs: 146.53653444676408,
    minUs: 83,
    maxUs: 13207,
    percentilesUs: { '95': 173, '99': 298 },
    returns: { OK: 479 },
  });
  t.deepEqual(java.operations.CLEANUP!.returns, {});
  t.is(java.other['TOTAL_GCS_G1_Young_Generation']?.['Count'], 0);
  const m = ycsbMetrics(java, 'a');
  t.deepEqual(m.map((x) => [x.metric, x.value]), [
    ['throughput', 4255.31914893617],
    ['read-latency-avg', 146.53653444676408],
    ['read-latency-p95', 173],
    ['read-latency-p99', 298],
    ['update-latency-avg', 208.4721689059501],
    ['update-latency-p95', 252],
    ['update-latency-p99', 319],
  ]);

  const ours = parseYcsbOutput(fixture('virtbench-client-workloada-run.txt'));
  t.true(ours.throughput > 0);
  const reads = ours.operations.READ!;
  const updates = ours.operations.UPDATE!;
  t.is(reads.operations + updates.operations, 20_000);
  t.is(reads.returns.OK, reads.operations);
  t.true(reads.minUs <= reads.percentilesUs['95']! && reads.percentilesUs['95']! <= reads.percentilesUs['99']! && reads.percentilesUs['99']! <= reads.maxUs);
  t.is(ycsbMetrics(ours, 'a').length, 7);

  t.throws(() => parseYcsbOutput('Exception in thread "main" java.net.ConnectException'), { message: /no \[OVERALL\]/ });
  const failed = parseYcsbOutput('[OVERALL], RunTime(ms), 10\n[OVERALL], Throughput(ops/sec), 100.0\n[READ], Operations, 1\n[READ-FAILED], Operations, 3\n');
  t.throws(() => ycsbMetrics(failed, 'a'), { message: /failed operations: READ-FAILED 3/ });
});

test("redis-benchmark's CSV rate", (t) => {
  const csv = '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n"HGETALL bench:rec","32583.90","0.158","0.040","0.143","0.271","0.423","4.959"\n';
  t.is(parseRedisBenchmarkCsv(csv), 32583.9);
  t.throws(() => parseRedisBenchmarkCsv('Could not connect to Redis'), { message: /no rate/ });
});

test('client threads: connections, operations and the load range split without gaps; inserting run phases stay on one', async (t) => {
  const { splitShares, workerCount } = await import('../../workloads/ycsb/client.ts');
  const o = resolveOptions({ workload: 'a', recordcount: 10_001, operationcount: 1001, threads: 5, target: 1000 });
  const load = splitShares('load', o, 2);
  t.deepEqual(load.map((s) => [s.threads, s.loadFrom, s.loadTo, s.operations]), [[3, 0, 5001, 5001], [2, 5001, 10_001, 5000]]);
  t.is(load.reduce((a, s) => a + s.target, 0), 1000);
  const run = splitShares('run', o, 2);
  t.deepEqual(run.map((s) => [s.threads, s.operations]), [[3, 501], [2, 500]]);
  t.not(run[0]!.seed, run[1]!.seed);
  t.is(splitShares('run', resolveOptions({ threads: 1 }), 4).length, 1);
  t.is(workerCount('run', o, 2), 2);
  t.is(workerCount('run', resolveOptions({ workload: 'd', threads: 8 }), 2), 1);
  t.is(workerCount('load', resolveOptions({ workload: 'd', threads: 8 }), 2), 2);
  t.is(workerCount('run', resolveOptions({ workload: 'a', threads: 1 }), 2), 1);
});

// Against a private redis-server on loopback (skipped where there is none): a few seconds.
test('a real phase: maxexecutiontime stops the load too; latencies are whole microseconds; status lines carry blocks', async (t) => {
  const { execa } = await import('execa');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { runPhase } = await import('../../workloads/ycsb/client.ts');
  const { waitForRedis } = await import('../../workloads/ycsb/resp.ts');
  const which = await execa('sh', ['-c', 'command -v redis-server'], { reject: false });
  if (which.exitCode !== 0) {
    t.pass('no redis-server here');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vb-ycsb-unit-'));
  const port = 20000 + (process.pid % 20000);
  const server = execa('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', ''], { reject: false });
  try {
    await waitForRedis('127.0.0.1', port, 10_000);
    const started = Date.now();
    const load = await runPhase('load', resolveOptions({ recordcount: 5_000_000, threads: 2, maxexecutiontime: 1 }), '127.0.0.1', port, { workers: 1 });
    t.true(Date.now() - started < 8000, 'the load stopped at its time limit');
    t.true(load.operationsDone > 0 && load.operationsDone < 5_000_000, `${load.operationsDone} inserts`);
    const status: string[] = [];
    const run = await runPhase('run', resolveOptions({ recordcount: load.operationsDone, operationcount: 2000, threads: 2 }), '127.0.0.1', port, { workers: 1, status: (l) => status.push(l) });
    const out = parseYcsbOutput(run.text);
    t.is(out.operations.READ!.operations + out.operations.UPDATE!.operations, 2000);
    for (const op of ['READ', 'UPDATE']) t.true(Number.isInteger(out.operations[op]!.minUs) && Number.isInteger(out.operations[op]!.maxUs));
    t.deepEqual(Object.keys(out.operations.CLEANUP!.returns), [], 'no Return= line for CLEANUP');
    t.regex(status.at(-1)!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} \d+ sec: 2000 operations; [\d.]+ current ops\/sec; \[READ: Count=\d+, Max=\d+, Min=\d+, Avg=[\d.]+, 90=\d+, 99=\d+, 99\.9=\d+, 99\.99=\d+\] \[UPDATE: /);
  } finally {
    server.kill('SIGTERM');
    await server;
    rmSync(dir, { recursive: true, force: true });
  }
});
