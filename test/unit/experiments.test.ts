// Experiment suites (runner/experiment.ts, runner/guest-pool.ts, core/matrix.ts experiment cells)
// with a hand-made fake driver: no root, no guests. Every provision and destroy is recorded, so
// "every guest the procedure created is destroyed" is checked on success, failure, timeout and a
// storm cut short with provisions still in flight, not assumed.
import test from 'ava';
import { fakeGuest } from '../fake-guest.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandCells, type MatrixSelection, type PlannedRun, type SuiteDefinition } from '../../core/matrix.ts';
import { repairSamples } from '../../core/results.ts';
import type { Cell, Driver, Experiment, ExperimentContext, Guest, GuestSpec, Profile } from '../../core/types.ts';
import footprint from '../../experiments/footprint.ts';
import storm, { stormParams } from '../../experiments/storm.ts';
import lifecycle from '../../suites/lifecycle.ts';
import { GuestPool } from '../../runner/guest-pool.ts';
import { measure, type RunEnv } from '../../runner/measure.ts';
import { metricsOf, withExperiments, type Registry } from '../../runner/registry.ts';
import { runSuite } from '../../runner/suite.ts';
import { allGuestPackages } from '../../workloads/index.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const profile: Profile = { name: 'smoke', vcpus: 1, memoryBytes: 256 * MiB, reps: 1, warmup: 0, timeoutS: 0.5, pidsMax: 100 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake platform; `delayMs(i)` is how long the i-th provision takes (-1: it fails), in call order. */
function world(delayMs: (i: number) => number = () => 0) {
  const provisioned: string[] = [];
  const destroyed: string[] = [];
  let calls = 0;
  const guest = (spec: GuestSpec): Guest => fakeGuest(spec, { destroy: async () => void destroyed.push(spec.name) });
  const driver: Driver = {
    name: 'fake',
    description: 'hand-made fake platform',
    hostPackages: [],
    probe: async () => ({ ok: true }),
    provision: async (spec) => {
      const d = delayMs(calls++);
      if (d < 0) throw new Error('no room for another guest');
      await sleep(d);
      provisioned.push(spec.name);
      return guest(spec);
    },
  };
  return { driver, provisioned, destroyed };
}

function experiment(run: Experiment['run'], more: Partial<Experiment> = {}): Experiment {
  return {
    name: 'exp',
    resource: 'cpu',
    description: 'hand-made experiment',
    metrics: [
      { metric: 'ready_s', unit: 's', better: 'lower' },
      { metric: 'total_s', unit: 's', better: 'lower' },
    ],
    guestPackages: [],
    params: () => ({ params: ['a', 'b'] }),
    estimateS: () => 2,
    run,
    ...more,
  };
}

const cellOf = (param: string, name = 'exp'): Cell => ({ id: `fake/${name}/${param}`, platform: 'fake', workload: name, resource: 'cpu', neighbourKind: 'none', neighbour: 'none', cpuPolicy: 'shares', memoryLimit: 'hard', overcommit: 1, param });
const planned = (c: Cell): PlannedRun => ({ index: 0, cell: c, rep: 1, warmup: false });

function envFor(t: { teardown: (f: () => void) => void }, driver: Driver, exps: Experiment[], log: string[] = []): RunEnv {
  const dir = mkdtempSync(join(tmpdir(), 'vb-experiments-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const registry: Registry = { drivers: { fake: driver }, workloads: {}, neighbours: {}, experiments: Object.fromEntries(exps.map((e) => [e.name, e])) };
  return {
    suite: 'fake-suite',
    plan: { vcpus: 1, memoryBytes: 256 * MiB },
    prep: { profile, cacheDir: dir, guestPackages: [], log: (l) => log.push(l) },
    shares: new Map(),
    registry,
    rec: { dir, monitors: false, guestMitigations: 'host', calibrate: async (cpus) => ({ cpuMs: 10, memMs: 20, cpus }) },
  };
}

const selection: MatrixSelection = { platforms: ['fake', 'other'], cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1 };

test('experiment cells: <platform>/<experiment>/<param> after the rows\' cells, which keep their ids; references within the experiment', (t) => {
  const rows: SuiteDefinition = { name: 's', description: 'hand-made', reference: 'no-neighbour', platforms: ['fake', 'other'], rows: [{ resource: 'cpu', workload: 'w', neighbours: { competing: 'w' } }] };
  const before = expandCells(rows, selection);
  const withExp = expandCells({ ...rows, experiments: [experiment(async () => ({ metrics: [] }), { reference: 'a', platforms: ['fake'] })] }, { ...selection, experimentParams: { exp: ['a', 'b'] } });
  t.deepEqual(withExp.slice(0, before.length), before);
  t.deepEqual(
    withExp.slice(before.length).map((c) => [c.id, c.reference, c.param, c.workload]),
    [
      ['fake/exp/a', undefined, 'a', 'exp'],
      ['fake/exp/b', 'fake/exp/a', 'b', 'exp'],
    ],
  );
  // --workloads selects experiments by name; a parameter that would break the id is refused
  t.deepEqual(expandCells({ ...rows, experiments: [experiment(async () => ({ metrics: [] }))] }, { ...selection, workloads: ['exp'], experimentParams: { exp: ['a'] } }).map((c) => c.id), ['fake/exp/a', 'other/exp/a']);
  t.throws(() => expandCells({ ...rows, experiments: [experiment(async () => ({ metrics: [] }))] }, { ...selection, experimentParams: { exp: ['x/y'] } }), { message: /parameter 'x\/y' cannot be part of a cell id/ });
});

test('storm sizes by profile, capped by host memory with one line (private cells: test/unit/storm-images.test.ts)', (t) => {
  t.deepEqual(stormParams({ profile: 'smoke', memoryBytes: 1 * GiB, hostMemoryBytes: 24 * GiB }), { params: ['n1', 'n2', 'n2-private'] });
  t.deepEqual(stormParams({ profile: 'quick', memoryBytes: 2 * GiB, hostMemoryBytes: 24 * GiB }).params.filter((p) => !p.endsWith('-private')), ['n1', 'n2', 'n4', 'n8']);
  t.deepEqual(stormParams({ profile: 'paper', memoryBytes: 4 * GiB, hostMemoryBytes: 24 * GiB }), {
    params: ['n1', 'n1-private', 'n2', 'n2-private', 'n4', 'n4-private'],
    note: "storm: N = 8, 16 left out: 8 guests of 4.00 GiB exceed 3/4 of this host's 24.0 GiB memory",
  });
});

test('a procedure that provisions, measures and returns: one sample per value (tenants kept), every guest destroyed', async (t) => {
  const w = world();
  const exp = experiment(async (ctx) => {
    const a = await ctx.provision(0);
    const b = await ctx.provision(1);
    await ctx.destroy(a);
    // cpuset: tenant i gets the i-th block of one CPU (wrapping on a small host)
    t.deepEqual(b.spec.cpus, [1 % cpus().length]);
    return { metrics: [{ metric: 'ready_s', tenant: 0, value: 0.1 }, { metric: 'ready_s', tenant: 1, value: null, status: 'dnf', message: 'never ready: stuck' }, { metric: 'total_s', value: 0.2 }] };
  });
  const env = envFor(t, w.driver, [exp]);
  const samples = await measure(planned({ ...cellOf('a'), cpuPolicy: 'cpuset' }), env, profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.cell, s.param, s.metric, s.tenant, s.status, s.value, s.message]), [
    ['fake/exp/a', 'a', 'ready_s', 0, 'ok', 0.1, undefined],
    ['fake/exp/a', 'a', 'ready_s', 1, 'dnf', null, 'never ready: stuck'],
    ['fake/exp/a', 'a', 'total_s', undefined, 'ok', 0.2, undefined],
  ]);
  t.is(w.provisioned.length, 2);
  t.deepEqual([...w.destroyed].sort(), [...w.provisioned].sort());
  t.is(w.destroyed.length, 2, 'the guest the procedure destroyed itself is not destroyed twice');
  const run = JSON.parse(readFileSync(join(env.rec.dir, samples[0]!.artifacts!, 'run.json'), 'utf8')) as { status: string };
  t.is(run.status, 'ok');
});

test('a procedure that throws half-way through a boot storm: an error; guests still being provisioned are waited for and destroyed too', async (t) => {
  // guests 0 and 1 arrive at once, guest 2 fails, guest 3 arrives 150 ms after the procedure threw
  const w = world((i) => [0, 0, -1, 150][i]!);
  const exp = experiment(async (ctx) => {
    await Promise.all([0, 1, 2, 3].map((i) => ctx.provision(i)));
    return { metrics: [] };
  });
  const samples = await measure(planned(cellOf('a')), envFor(t, w.driver, [exp]), { ...profile, timeoutS: 5 }, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.status, s.message]), [
    ['ready_s', 'error', 'no room for another guest'],
    ['total_s', 'error', 'no room for another guest'],
  ]);
  t.is(w.provisioned.length, 3);
  t.deepEqual([...w.destroyed].sort(), [...w.provisioned].sort());
});

test('a procedure past the run timeout is a DNF for every metric; its guests are destroyed', async (t) => {
  const w = world();
  const exp = experiment(async (ctx) => {
    await ctx.provision(0);
    await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
    throw new Error('aborted');
  });
  const t0 = Date.now();
  const samples = await measure(planned(cellOf('a')), envFor(t, w.driver, [exp]), profile, new AbortController().signal, () => undefined);
  t.true(Date.now() - t0 < 5000);
  t.deepEqual(samples.map((s) => [s.status, s.message]), [
    ['dnf', 'did not finish within 0.5 s'],
    ['dnf', 'did not finish within 0.5 s'],
  ]);
  t.is(w.provisioned.length, 1);
  t.deepEqual(w.destroyed, w.provisioned);
});

test('a metric the procedure did not return, or returned as NaN, is an error naming it', async (t) => {
  const w = world();
  const exp = experiment(async () => ({ metrics: [{ metric: 'ready_s', value: Number.NaN }] }));
  const samples = await measure(planned(cellOf('a')), envFor(t, w.driver, [exp]), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.status, s.message]), [
    ['ready_s', 'error', 'experiment returned no finite value for ready_s'],
    ['total_s', 'error', 'experiment returned no value for total_s'],
  ]);
});

test('the storm procedure: a guest that never becomes ready is a DNF with its cause, its siblings keep their times, all are destroyed', async (t) => {
  // guest 1 takes longer than 90% of the 0.5 s run timeout; it arrives later and is destroyed then
  const w = world((i) => (i === 1 ? 600 : 10));
  const samples = await measure(planned(cellOf('n2', 'storm')), envFor(t, w.driver, [storm]), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.tenant, s.status]), [
    ['ready_s', 0, 'ok'],
    ['ready_s', 1, 'dnf'],
    ['all_ready_s', undefined, 'dnf'],
  ]);
  t.true(samples[0]!.value! > 0 && samples[0]!.value! < 0.45);
  t.is(samples[1]!.message, 'guest 1 of 2 never ready: not ready within 0.45 s');
  t.is(samples[2]!.message, '1 of 2 guests never ready');
  t.is(w.provisioned.length, 2);
  t.deepEqual([...w.destroyed].sort(), [...w.provisioned].sort());
  const ok = world();
  const all = await measure(planned(cellOf('n2', 'storm')), envFor(t, ok.driver, [storm]), profile, new AbortController().signal, () => undefined);
  t.deepEqual(all.map((s) => s.status), ['ok', 'ok', 'ok']);
  t.is(all[2]!.value, Math.max(all[0]!.value!, all[1]!.value!));
});

test('a guest that arrives after its pool was closed is destroyed as it arrives', async (t) => {
  const log: string[] = [];
  const pool = new GuestPool((l) => log.push(l), 20);
  const w = world(() => 100);
  const ctx = {} as ExperimentContext;
  const late = pool.provision(() => w.driver.provision({ name: 'late' } as GuestSpec, ctx));
  await pool.close();
  t.deepEqual(w.destroyed, []);
  await t.throwsAsync(late, { message: 'guest late arrived after its run ended; destroyed' });
  t.deepEqual(w.destroyed, ['late']);
  t.regex(log[0]!, /1 guest\(s\) still being provisioned after 0 s/);
  await t.throwsAsync(pool.provision(() => w.driver.provision({ name: 'x' } as GuestSpec, ctx)), { message: /the run is over/ });
});

test('resume knows an experiment run is complete when each of its metrics has a line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vb-experiments-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'samples.jsonl');
  const line = (metric: string, rep: number) => JSON.stringify({ cell: 'fake/storm/n2', workload: 'storm', rep, warmup: false, metric });
  writeFileSync(file, [line('ready_s', 1), line('ready_s', 1), line('all_ready_s', 1), line('ready_s', 2)].join('\n') + '\n');
  const reg = withExperiments({ drivers: {}, workloads: {}, neighbours: {} }, lifecycle);
  t.deepEqual([...repairSamples(file, metricsOf(reg), { write: false }).done], ['fake/storm/n2#1']);
});

test('the lifecycle suite: its experiments\' guest packages are in the cached guest image; its smoke plan on a fake platform', async (t) => {
  for (const e of lifecycle.experiments!) for (const p of e.guestPackages) t.true(allGuestPackages().includes(p), `${e.name} needs ${p}`);
  const w = world();
  const out: string[] = [];
  const err: string[] = [];
  const def: SuiteDefinition = { ...lifecycle, platforms: ['fake'] };
  const code = await runSuite(def, ['--dry-run', '--profile', 'smoke', '--seed', '1'], { out: (l) => out.push(l), err: (l) => err.push(l) }, { drivers: { fake: w.driver }, workloads: {}, neighbours: {} });
  t.is(code, 0, err.join('\n'));
  t.deepEqual(out.filter((l) => l.startsWith('  ')), [
    '  fake/launch/cold   (vs fake/launch/warm)',
    '  fake/launch/warm',
    '  fake/storm/n1',
    '  fake/storm/n2   (vs fake/storm/n1)',
    '  fake/image/build',
    '  fake/cow/plain',
    '  fake/cow/layer   (vs fake/cow/plain)',
  ]);
  // launch cold 4 s + warm 6 s, storm n1 3 s + n2 4 s, image 15 s, cow 5 s + 5 s; 3 reps
  t.true(out.includes('21 runs, estimated 2m06s'), out.join('\n'));
  t.deepEqual(w.provisioned, []);
});

test('footprint: a platform whose guests report neither disk nor memory gets an error per metric saying so, and its guest is destroyed', async (t) => {
  const w = world();
  const samples = await measure(planned(cellOf('idle', 'footprint')), envFor(t, w.driver, [footprint]), { ...profile, timeoutS: 10 }, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.status, s.message]), [
    ['disk_bytes', 'error', 'fake guests do not report disk_bytes'],
    ['memory_bytes', 'error', 'fake guests do not report memory_bytes'],
  ]);
  t.deepEqual(w.destroyed, w.provisioned);
  t.is(w.provisioned.length, 1);
});
