// Issue 12's scaling and migration suites with a hand-made fake driver and a hand-made app (no
// root, no guests, no servers): the plan-time skip of cells whose capability a platform lacks (with
// the probe's reason), each start method's procedure (what it calls, in which order, what it
// measures), the 1-second bucketing of the service timeline, the migration procedure with and
// without a working migrate(), and the scaling and migration tables.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeGuest } from '../fake-guest.ts';
import { expandCells, type MatrixSelection, type PlannedRun } from '../../core/matrix.ts';
import { parseTimelineMetric } from '../../core/timeline-metrics.ts';
import type { Capabilities, Cell, Checkpoint, Driver, Guest, GuestSpec, Profile, Sample } from '../../core/types.ts';
import type { App } from '../../experiments/apps/app.ts';
import { ClosedLoop, bucketize, rateBetween, slowdown } from '../../experiments/closed-loop.ts';
import migrate from '../../experiments/migrate.ts';
import scale, { APPS, scaleParams, timelineCsv } from '../../experiments/scale.ts';
import { experimentGroups } from '../../analysis/experiment-cells.ts';
import { scalingFigures } from '../../analysis/scaling-figures.ts';
import { migrationFootprintTable, readinessTable } from '../../analysis/scaling-tables.ts';
import { summarize } from '../../analysis/summary.ts';
import { capabilityLine, probeCapabilities } from '../../runner/capabilities.ts';
import { measure, type RunEnv } from '../../runner/measure.ts';
import scaling from '../../suites/scaling.ts';
import migration from '../../suites/migration.ts';

const MiB = 1024 ** 2;
const profile: Profile = { name: 'smoke', vcpus: 1, memoryBytes: 256 * MiB, reps: 1, warmup: 0, timeoutS: 30, pidsMax: 100 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const allOk = (how: string): Capabilities => ({ pause: { ok: true, how }, checkpoint: { ok: true, how }, migrate: { ok: true, how }, clone: { ok: true, how } });

test('a cell whose capability the platform lacks is skipped with the probe\'s reason; an unprobed platform keeps its cells', (t) => {
  const lines: string[] = [];
  const sel: MatrixSelection = {
    platforms: ['lxc', 'kvm', 'other'],
    cpuPolicy: 'cpuset',
    memoryLimit: 'hard',
    overcommit: 1,
    onSkip: (l) => lines.push(l),
    experimentParams: { scale: scaleParams('smoke').params },
    capabilities: {
      lxc: { pause: { ok: true }, checkpoint: { ok: false, reason: 'criu check: vdso symtable not found' }, clone: { ok: false, reason: 'CRIU does not work here' }, migrate: { ok: false, reason: 'x' } },
      kvm: allOk('QEMU, TCG'),
    },
  };
  const cells = expandCells(scaling, sel);
  t.deepEqual(cells.map((c) => [c.id, c.reference]), [
    ['lxc/scale/redis-cold', undefined],
    ['lxc/scale/redis-resume', 'lxc/scale/redis-cold'],
    ['kvm/scale/redis-cold', undefined],
    ['kvm/scale/redis-warm', 'kvm/scale/redis-cold'],
    ['kvm/scale/redis-hot', 'kvm/scale/redis-cold'],
    ['kvm/scale/redis-resume', 'kvm/scale/redis-cold'],
    ['other/scale/redis-cold', undefined],
    ['other/scale/redis-warm', 'other/scale/redis-cold'],
    ['other/scale/redis-hot', 'other/scale/redis-cold'],
    ['other/scale/redis-resume', 'other/scale/redis-cold'],
  ]);
  t.deepEqual(lines, ['lxc/scale/redis-warm skipped: lxc cannot checkpoint here: criu check: vdso symtable not found', 'lxc/scale/redis-hot skipped: lxc cannot clone here: CRIU does not work here']);
  // the migration suite needs no capability: every cell stays, whatever the verdicts
  t.deepEqual(expandCells(migration, { ...sel, experimentParams: { migrate: ['idle', 'ycsb-redis'] } }).map((c) => c.id), ['lxc/migrate/idle', 'lxc/migrate/ycsb-redis', 'kvm/migrate/idle', 'kvm/migrate/ycsb-redis', 'other/migrate/idle', 'other/migrate/ycsb-redis']);
});

test('the capability probe: a line per platform of an asking experiment, a throwing probe is a verdict too, none without needs', async (t) => {
  const lines: string[] = [];
  const driver = (name: string, caps?: () => Promise<Capabilities>): Driver => ({ name, description: 'hand-made', hostPackages: [], probe: async () => ({ ok: true }), provision: async () => undefined as never, ...(caps ? { capabilities: caps } : {}) });
  const got = await probeCapabilities([scale], [driver('a', async () => allOk('freezer')), driver('b'), driver('c', async () => Promise.reject(new Error('qemu: no such file\nmore')))], 'smoke', (l) => lines.push(l));
  t.deepEqual(Object.keys(got!), ['a', 'b', 'c']);
  t.is(got!.b!.pause.reason, 'its driver implements none');
  t.false(got!.c!.clone.ok);
  t.deepEqual(lines, [
    'capabilities of a: pause ok (freezer); checkpoint ok (freezer); migrate ok (freezer); clone ok (freezer)',
    'capabilities of b: pause no (its driver implements none); checkpoint no (its driver implements none); migrate no (its driver implements none); clone no (its driver implements none)',
    'capabilities of c: pause no (its capability probe failed: qemu: no such file); checkpoint no (its capability probe failed: qemu: no such file); migrate no (its capability probe failed: qemu: no such file); clone no (its capability probe failed: qemu: no such file)',
  ]);
  t.is(capabilityLine('x', allOk('y')).split('; ').length, 4);
  t.is(await probeCapabilities([{ ...scale, needs: undefined }], [driver('a', async () => allOk('z'))], 'smoke', () => undefined), undefined);
});

test('time-series bucketing: requests by the second they were answered in, empty seconds have no latency, later ones are left out', (t) => {
  const buckets = bucketize([10, 500, 999.9, 1000, 2500, 3100], [1, 3, 2, 4, 5, 9], 3, [1500, 2999]);
  t.deepEqual(buckets, [
    { second: 1, ops: 3, meanMs: 2, p50Ms: 2, p99Ms: 2.98, errors: 0 },
    { second: 2, ops: 1, meanMs: 4, p50Ms: 4, p99Ms: 4, errors: 1 },
    { second: 3, ops: 1, meanMs: 5, p50Ms: 5, p99Ms: 5, errors: 1 },
  ]);
  t.deepEqual(bucketize([], [], 2).map((b) => [b.ops, b.meanMs]), [[0, null], [0, null]]);
  t.is(timelineCsv(buckets.slice(0, 1)), 'second,ops,mean_ms,p50_ms,p99_ms,errors\n1,3,2,2,2.98,0\n');
  t.is(rateBetween([100, 200, 1200, 1900], 0, 1000), 2);
  t.is(rateBetween([100, 200, 1200, 1900], 1000, 1500), 2);
  t.true(Number.isNaN(rateBetween([1], 5, 5)));
  t.is(slowdown(100, 25), 0.75);
  t.is(slowdown(100, 150), 0);
  t.is(slowdown(0, 10), undefined);
});

test('a closed loop ends although its server stops answering: an unanswered request ends its connection as an error', async (t) => {
  let answered = 0;
  const alive: () => Promise<void> = () => new Promise((r) => setTimeout(() => (answered++, r()), 2));
  const gone: () => Promise<void> = () => new Promise(() => undefined); // a dead guest: no answer, no reset
  let calls = 0;
  const dies: () => Promise<void> = () => (++calls > 5 ? gone() : alive());
  const t0 = performance.now();
  const loop = new ClosedLoop([dies, alive], 60, undefined, 100, 200);
  await new Promise((r) => setTimeout(r, 400));
  loop.stop();
  await loop.done;
  t.true(performance.now() - t0 < 2000, 'done soon after stop(), not at the loop\'s 60 s');
  t.is(loop.errorsAtMs.length, 1, 'the unanswered request is one error');
  t.regex(loop.errorMessages[0] ?? '', /no answer within 0.2 s/);
  t.true(loop.endMs.length > 5 && loop.endMs.length === answered, 'the other connection went on');
});

/** A hand-made app: answers its first request on the third try; each request takes 5 ms, and waits while its instance is frozen. */
function fakeApp(events: string[], frozen: Set<string>): App {
  let asks = 0;
  return {
    name: 'redis',
    guestPackages: [],
    hostPackages: [],
    pollMs: 1,
    size: () => 'hand-made data',
    data: async () => '/nonexistent/hand-made.rdb',
    install: async (g) => (events.push(`install ${g.name}`), '/d'),
    start: (g, _dir, port) => {
      events.push(`start ${g.name} on ${port}`);
      return { proc: { pid: 1, done: new Promise(() => undefined), kill: () => undefined }, exited: () => undefined };
    },
    ask: async () => ++asks % 3 === 0,
    clients: async (at, n) => ({
      requests: Array.from({ length: n }, () => async () => {
        await sleep(5);
        while (frozen.has(at.host)) await sleep(5);
      }),
      close: async () => undefined,
    }),
  };
}

/** A fake platform whose capabilities all work, recording every call in order; a clone freezes its source for 400 ms. */
function world(events: string[], frozen: Set<string>) {
  let n = 0;
  const guestOf = (spec: GuestSpec, how: string): Guest => {
    const addr = `10.0.0.${++n}`;
    events.push(`${how} ${spec.name}`);
    return fakeGuest(spec, {
      address: () => addr,
      usage: async () => ({ memoryBytes: 50 * MiB }),
      pause: async () => void events.push(`pause ${spec.name}`),
      resume: async () => void events.push(`resume ${spec.name}`),
      checkpoint: async (dir, o): Promise<Checkpoint> => (events.push(`checkpoint ${spec.name} leaveRunning=${o.leaveRunning}`), { dir, platform: 'fake', bytes: 123 * MiB, seconds: 0.2, stamp: { harness: 'h', kernel: 'k', tool: 'hand-made' } }),
      migrate: async () => (events.push(`migrate ${spec.name}`), { totalS: 1.5, downtimeMs: 40, bytes: 60 * MiB, memoryBytes: 256 * MiB }),
      destroy: async () => void events.push(`destroy ${spec.name}`),
    });
  };
  const driver: Driver = {
    name: 'fake',
    description: 'hand-made fake platform',
    hostPackages: [],
    probe: async () => ({ ok: true }),
    capabilities: async () => allOk('hand-made'),
    provision: async (spec) => guestOf(spec, 'provision'),
    restore: async (spec, cp) => (events.push(`restore from ${cp.bytes} B`), guestOf(spec, 'restored')),
    clone: async (source, spec) => {
      const from = source.address()!;
      frozen.add(from);
      await sleep(400);
      frozen.delete(from);
      return guestOf(spec, `cloned from ${source.name}:`);
    },
  };
  return driver;
}

function envFor(t: { teardown: (f: () => void) => void }, driver: Driver): RunEnv {
  const dir = mkdtempSync(join(tmpdir(), 'vb-scaling-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return {
    suite: 'scaling',
    plan: { vcpus: 1, memoryBytes: 256 * MiB },
    prep: { profile, cacheDir: dir, guestPackages: [], log: () => undefined },
    shares: new Map(),
    registry: { drivers: { fake: driver }, workloads: {}, neighbours: {}, experiments: { scale, migrate } },
    rec: { dir, monitors: false, guestMitigations: 'host', calibrate: async (cpus) => ({ cpuMs: 10, memMs: 20, cpus }) },
  };
}

const cellOf = (experiment: string, param: string): Cell => ({ id: `fake/${experiment}/${param}`, platform: 'fake', workload: experiment, resource: 'memory', neighbourKind: 'none', neighbour: 'none', cpuPolicy: 'shares', memoryLimit: 'hard', overcommit: 1, param });
const planned = (c: Cell): PlannedRun => ({ index: 0, cell: c, rep: 1, warmup: false });

async function runScale(t: { teardown: (f: () => void) => void }, param: string) {
  const events: string[] = [];
  const frozen = new Set<string>();
  const real = APPS.redis!;
  APPS.redis = fakeApp(events, frozen);
  t.teardown(() => void (APPS.redis = real));
  const env = envFor(t, world(events, frozen));
  const samples = await measure(planned(cellOf('scale', param)), env, profile, new AbortController().signal, () => undefined);
  const by = (metric: string) => samples.filter((s) => s.metric === metric);
  return { events, samples, by, env };
}

const guestNames = (events: string[]) => events.map((e) => e.replace(/\S+-g(\d+)/g, 'g$1'));

test('scale cold: a guest, the data put in place, the app started, three seconds of service in buckets; no capability used', async (t) => {
  const { events, samples, by, env } = await runScale(t, 'redis-cold');
  t.deepEqual(samples.filter((s) => s.status !== 'ok').map((s) => [s.metric, s.message]), []);
  const names = guestNames(events).filter((e) => !e.startsWith('destroy'));
  t.deepEqual(names.slice(0, 2), ['provision g0', 'install g0']);
  t.regex(names[2]!, /^start g0 on \d+$/);
  t.is(names.length, 3);
  t.true(by('ready_s')[0]!.value! >= by('start_s')[0]!.value!);
  t.is(by('image_bytes').length, 0);
  t.is(by('source_slowdown').length, 0);
  // 3 s of 4 connections of 5 ms requests: ~800 ops/s in each bucket
  const ops = [1, 2, 3].map((k) => by(`ops_s_t${k}`)[0]!.value!);
  for (const o of ops) t.true(o > 300 && o < 900, `ops ${ops.join(', ')}`);
  t.is(by('ops_s_t4').length, 0);
  t.true(by('latency_mean_ms_t1')[0]!.value! >= 5);
  t.is(Math.round(by('first_ops_s')[0]!.value!), Math.round(ops.reduce((a, b) => a + b) / 3));
  const csv = readFileSync(join(env.rec.dir, samples[0]!.artifacts!, 'timeline.csv'), 'utf8').trim().split('\n');
  t.is(csv.length, 4);
  t.is(csv[0], 'second,ops,mean_ms,p50_ms,p99_ms,errors');
});

test('scale warm: checkpoint of an initialized, warmed guest (stopped), the source destroyed before the restore, image_bytes the checkpoint\'s', async (t) => {
  const { events, samples, by } = await runScale(t, 'redis-warm');
  t.deepEqual(samples.filter((s) => s.status !== 'ok').map((s) => [s.metric, s.message]), []);
  const order = guestNames(events).filter((e) => !e.startsWith('start') && !e.startsWith('install'));
  t.deepEqual(order.slice(0, 5), ['provision g0', 'checkpoint g0 leaveRunning=false', 'destroy g0', `restore from ${123 * MiB} B`, 'restored g1']);
  t.is(by('image_bytes')[0]!.value, 123 * MiB);
  t.true(by('ready_s')[0]!.value! >= by('start_s')[0]!.value!);
  t.is(by('ops_s_t3').length, 1);
});

test('scale hot: a clone of a running instance under load; the source\'s throughput lost during the clone is source_slowdown', async (t) => {
  const { events, samples, by } = await runScale(t, 'redis-hot');
  t.deepEqual(samples.filter((s) => s.status !== 'ok').map((s) => [s.metric, s.message]), []);
  t.true(guestNames(events).some((e) => e === 'cloned from g0: g1'), events.join('\n'));
  // the fake source served nothing while frozen by its clone: nearly all of its throughput lost
  t.true(by('source_slowdown')[0]!.value! > 0.9, String(by('source_slowdown')[0]!.value));
  t.true(by('start_s')[0]!.value! >= 0.4);
  t.is(by('image_bytes').length, 0);
});

test('scale resume: pause then resume of an initialized instance; start_s is the resume', async (t) => {
  const { events, samples, by } = await runScale(t, 'redis-resume');
  t.deepEqual(samples.filter((s) => s.status !== 'ok').map((s) => [s.metric, s.message]), []);
  const order = guestNames(events).filter((e) => e.startsWith('pause') || e.startsWith('resume') || e.startsWith('destroy'));
  t.deepEqual(order, ['pause g0', 'resume g0', 'destroy g0']);
  t.true(by('start_s')[0]!.value! < 0.5);
});

test('scale on a platform whose driver cannot restore: every metric an error naming it, the source destroyed', async (t) => {
  const events: string[] = [];
  const frozen = new Set<string>();
  const real = APPS.redis!;
  APPS.redis = fakeApp(events, frozen);
  t.teardown(() => void (APPS.redis = real));
  const { restore: _r, ...noRestore } = world(events, frozen);
  const samples = await measure(planned(cellOf('scale', 'redis-warm')), envFor(t, noRestore), profile, new AbortController().signal, () => undefined);
  t.true(samples.length > 0 && samples.every((s) => s.status === 'error' && s.message === 'platform fake cannot restore a checkpoint'));
  t.true(events.some((e) => e.startsWith('destroy')), 'the source guest was destroyed');
});

test('migrate: memory to move, then a live migration while the guest runs; checkpoint_bytes only for containers', async (t) => {
  const events: string[] = [];
  const env = envFor(t, world(events, new Set()));
  const samples = await measure(planned(cellOf('migrate', 'idle')), env, profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.status, s.value]), [
    ['memory_bytes', 'ok', 50 * MiB],
    ['checkpoint_bytes', 'ok', 123 * MiB],
    ['total_s', 'ok', 1.5],
    ['downtime_ms', 'ok', 40],
    ['sent_bytes', 'ok', 60 * MiB],
  ]);
  t.deepEqual(guestNames(events).slice(0, 3), ['provision g0', 'migrate g0', 'checkpoint g0 leaveRunning=true']);
});

test('migrate where migration fails or is unavailable: errors naming the cause, or no such metrics; memory_bytes either way', async (t) => {
  const events: string[] = [];
  const base = world(events, new Set());
  const failing: Driver = { ...base, provision: async (spec, ctx) => ({ ...(await base.provision(spec, ctx)), migrate: async () => Promise.reject(new Error('did not converge within 30 s')) }) };
  const s1 = await measure(planned(cellOf('migrate', 'idle')), envFor(t, failing), profile, new AbortController().signal, () => undefined);
  t.deepEqual(s1.filter((s) => s.status === 'error').map((s) => s.metric), ['total_s', 'downtime_ms', 'sent_bytes']);
  t.regex(s1.find((s) => s.metric === 'total_s')!.message!, /^live migration failed after \d+\.\d s: did not converge within 30 s$/);
  t.is(s1.find((s) => s.metric === 'memory_bytes')!.status, 'ok');
  const no = { ok: false, reason: 'criu check: vdso symtable not found' };
  const without: Driver = { ...base, capabilities: async () => ({ pause: { ok: true }, checkpoint: no, migrate: no, clone: no }) };
  const s2 = await measure(planned(cellOf('migrate', 'idle')), envFor(t, without), profile, new AbortController().signal, () => undefined);
  t.deepEqual(s2.map((s) => [s.metric, s.status]), [['memory_bytes', 'ok']]);
  // QEMU finished the migration, then the guest no longer answered: every migration metric an error carrying QEMU's figures, none also ok
  const dies: Driver = {
    ...base,
    provision: async (spec, ctx) => {
      const g = await base.provision(spec, ctx);
      let moved = false;
      return {
        ...g,
        migrate: async () => ((moved = true), { totalS: 1.5, downtimeMs: 40, bytes: 123456 }),
        sh: async (cmd: string, o?: Parameters<Guest['sh']>[1]) => (moved ? Promise.reject(new Error('agent gone: QEMU exited (0): Kernel panic - not syncing: Fatal exception in interrupt')) : g.sh(cmd, o)),
      };
    },
  };
  const s3 = await measure(planned(cellOf('migrate', 'idle')), envFor(t, dies), profile, new AbortController().signal, () => undefined);
  t.deepEqual(s3.filter((s) => s.metric !== 'checkpoint_bytes').map((s) => [s.metric, s.status]), [['memory_bytes', 'ok'], ['total_s', 'error'], ['downtime_ms', 'error'], ['sent_bytes', 'error']]);
  t.regex(s3.find((s) => s.metric === 'total_s')!.message!, /^the guest did not answer after its migration \(QEMU: 1\.50 s, 40 ms downtime, 123456 B sent\): .*Kernel panic/);
});

const sample = (cell: string, metric: string, value: number, rep: number, more: Partial<Sample> = {}): Sample => {
  const [platform, workload, param] = cell.split('/') as [string, string, string];
  return { suite: 's', cell, platform, workload, resource: 'memory', neighbourKind: 'none', neighbour: 'none', cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1, param, rep, warmup: false, metric, value, unit: metric.endsWith('bytes') ? 'B' : 's', better: 'lower', status: 'ok', accel: 'native', vcpus: 1, memoryBytes: MiB, start: '', end: '', ...more };
};

test('the readiness and migration-footprint tables: a row per platform and method or workload, ratios to cold, MiB, empty where absent', (t) => {
  const samples: Sample[] = [
    ...[1, 2].flatMap((r) => [sample('kvm/scale/redis-cold', 'ready_s', 10 + r, r), sample('kvm/scale/redis-cold', 'start_s', 8, r)]),
    ...[1, 2].flatMap((r) => [sample('kvm/scale/redis-warm', 'ready_s', 1 + r / 10, r, { reference: 'kvm/scale/redis-cold' }), sample('kvm/scale/redis-warm', 'image_bytes', 300 * MiB, r, { reference: 'kvm/scale/redis-cold' })]),
    sample('lxc/scale/redis-cold', 'ready_s', 0.5, 1),
    sample('lxc/migrate/idle', 'memory_bytes', 2 * MiB, 1),
    sample('kvm/migrate/ycsb-redis', 'memory_bytes', 400 * MiB, 1),
    sample('kvm/migrate/ycsb-redis', 'sent_bytes', 350 * MiB, 1),
    sample('kvm/migrate/ycsb-redis', 'total_s', 4, 1, { status: 'error', value: null, message: 'x' }),
  ];
  const rows = new Map(summarize(samples).map((r) => [`${r.cell}\u0000${r.metric}`, r]));
  const groups = experimentGroups(samples);
  const ready = readinessTable(groups, rows, ['lxc', 'kvm'])!;
  t.is(ready.id, 'scaling-readiness');
  const col = (name: string) => ready.header.indexOf(name);
  t.deepEqual(ready.records.map((r) => [r[0], r[1], r[2], r[col('ready_s mean [s]')], r[col('ready_s ratio to cold')], r[col('image_bytes mean [MiB]')], r[col('n')]]), [
    ['lxc', 'redis', 'cold', '0.5', '', '', '1'],
    ['kvm', 'redis', 'cold', '11.5', '', '', '2'],
    ['kvm', 'redis', 'warm', '1.15', '0.1', '300', '2'],
  ]);
  const mig = migrationFootprintTable(groups, rows, ['lxc', 'kvm'])!;
  t.is(mig.id, 'migration-footprint');
  const m = (name: string) => mig.header.indexOf(name);
  t.deepEqual(mig.records.map((r) => [r[0], r[1], r[m('memory to move mean [MiB]')], r[m('sent mean [MiB]')], r[m('total_s mean [s]')], r[m('migration errors')]]), [
    ['lxc', 'idle', '2', '', '', '0'],
    ['kvm', 'ycsb-redis', '400', '350', '', '1'],
  ]);
});

test('timeline figures: per app and base metric, a line per platform and method against the second', (t) => {
  const samples = [1, 2, 3].flatMap((k) => [sample('lxc/scale/redis-cold', `ops_s_t${k}`, 100 * k, 1), sample('lxc/scale/redis-resume', `ops_s_t${k}`, 300, 1)]);
  const figs = scalingFigures(samples, summarize(samples));
  t.deepEqual(figs.map((f) => f.id), ['scale-redis-ops_s-timeline']);
  const points = (figs[0]!.spec as { data: { values: { line: string; second: number; value: number }[] } }).data.values;
  t.deepEqual(points.map((p) => [p.line, p.second, p.value]), [
    ['lxc, cold', 1, 100],
    ['lxc, cold', 2, 200],
    ['lxc, cold', 3, 300],
    ['lxc, resume', 1, 300],
    ['lxc, resume', 2, 300],
    ['lxc, resume', 3, 300],
  ]);
  t.deepEqual(parseTimelineMetric('latency_p50_ms_t12'), { base: 'latency_p50_ms', second: 12 });
  t.is(parseTimelineMetric('ready_s'), undefined);
});
