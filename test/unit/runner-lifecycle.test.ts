// The per-run lifecycle of the runner (runner/measure.ts, runner/run-loop.ts) with a fake driver,
// a fake workload and a fake neighbour handed in as its registry: no root, no guests. Every call
// the runner makes on them is recorded, so the order (neighbour stopped before any guest is
// destroyed) and the cleanup (every guest destroyed, whatever happened) are checked, not assumed.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlannedRun, SuiteDefinition } from '../../core/matrix.ts';
import { SampleWriter } from '../../core/results.ts';
import type { Cell, Driver, Guest, GuestSpec, Metric, Neighbour, Profile, RunContext, Workload } from '../../core/types.ts';
import { measure, type RunEnv } from '../../runner/measure.ts';
import { REGISTRY, guestPackagesOf, type Registry } from '../../runner/registry.ts';
import { runPlanned } from '../../runner/run-loop.ts';
import { runSuite } from '../../runner/suite.ts';
import { allGuestPackages } from '../../workloads/index.ts';
import { fakeGuest } from '../fake-guest.ts';

const MiB = 1024 ** 2;
const profile: Profile = { name: 'smoke', vcpus: 1, memoryBytes: 256 * MiB, reps: 1, warmup: 0, timeoutS: 0.3, pidsMax: 100 };

/** What the fake workload does in setup() and run(); `world.calls` records everything. */
interface Script {
  setup?: (g: Guest, ctx: RunContext) => Promise<void>;
  run?: (g: Guest, ctx: RunContext) => Promise<Metric[]>;
  /** The neighbour guest cannot be provisioned. */
  failNeighbourProvision?: boolean;
}

const ok = (score = 42, latency = 1.5): Metric[] => [
  { metric: 'score', value: score, unit: 'ops/s', better: 'higher' },
  { metric: 'latency', value: latency, unit: 'ms', better: 'lower' },
];

/** The role of a guest from its name (`vb<n>-<pid>-<role>`). */
const role = (name: string) => name.replace(/^vb\d+-\d+-/, '');

function world(script: Script = {}) {
  const calls: string[] = [];
  const provisioned: string[] = [];
  const destroyed: string[] = [];
  const guest = (spec: GuestSpec): Guest =>
    fakeGuest(spec, {
      sh: async (s) => {
        calls.push(`sh ${role(spec.name)}: ${s}`);
        return { exitCode: 0, stdout: '', stderr: '', durationMs: 0, timedOut: false };
      },
      killAll: async () => void calls.push(`killAll ${role(spec.name)}`),
      destroy: async () => {
        calls.push(`destroy ${role(spec.name)}`);
        destroyed.push(spec.name);
      },
    });
  const driver: Driver = {
    name: 'fake',
    description: 'hand-made fake platform',
    hostPackages: [],
    probe: async () => ({ ok: true }),
    provision: async (spec) => {
      calls.push(`provision ${role(spec.name)}`);
      if (script.failNeighbourProvision && role(spec.name) === 'nb') throw new Error('no room for the neighbour');
      provisioned.push(spec.name);
      return guest(spec);
    },
  };
  const workload: Workload = {
    name: 'w',
    resource: 'cpu',
    description: 'hand-made fake workload',
    metrics: [
      { metric: 'score', unit: 'ops/s', better: 'higher' },
      { metric: 'latency', unit: 'ms', better: 'lower' },
    ],
    guestPackages: ['fake-package'],
    setup: async (g, ctx) => {
      calls.push(`setup ${role(g.name)}`);
      await script.setup?.(g, ctx);
    },
    run: async (g, ctx) => {
      calls.push(`run ${role(g.name)}`);
      await g.sh('work --hard');
      return script.run ? script.run(g, ctx) : ok();
    },
  };
  const neighbour: Neighbour = {
    name: 'nb',
    resource: 'cpu',
    kind: 'competing',
    description: 'hand-made fake neighbour',
    guestPackages: [],
    setup: async (g) => void calls.push(`neighbour setup ${role(g.name)}`),
    start: async (g) => {
      calls.push(`neighbour start ${role(g.name)}`);
      return {
        stop: async () => {
          calls.push('neighbour stop');
          return { detail: { loops: 3 } };
        },
      };
    },
  };
  const registry: Registry = { drivers: { fake: driver }, workloads: { w: workload }, neighbours: { nb: neighbour } };
  return { calls, provisioned, destroyed, registry };
}

function cell(neighbour: 'none' | 'nb'): Cell {
  return {
    id: `fake/w/${neighbour === 'none' ? 'none:none' : 'competing:nb'}/shares/hard/x1`,
    platform: 'fake',
    workload: 'w',
    resource: 'cpu',
    neighbourKind: neighbour === 'none' ? 'none' : 'competing',
    neighbour,
    cpuPolicy: 'shares',
    memoryLimit: 'hard',
    overcommit: 1,
  };
}

const planned = (c: Cell, rep = 1, index = 0): PlannedRun => ({ index, cell: c, rep, warmup: false });

function envFor(registry: Registry, dir: string, log: string[], calibrate?: RunEnv['rec']['calibrate']): RunEnv {
  return {
    suite: 'fake-suite',
    plan: { vcpus: 1, memoryBytes: 256 * MiB },
    prep: { profile, cacheDir: dir, guestPackages: guestPackagesOf(registry), log: (l) => log.push(l) },
    shares: new Map(),
    registry,
    // monitors off: they read host cgroups the fakes do not have; calibration is the fake's own
    rec: { dir, monitors: false, guestMitigations: 'host', calibrate: calibrate ?? (async (cpus) => ({ cpuMs: 10, memMs: 20, cpus })) },
  };
}

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vb-lifecycle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const runJson = (dir: string, artifacts: string) => JSON.parse(readFileSync(join(dir, artifacts, 'run.json'), 'utf8')) as { status: string; message?: string; calibration: unknown; files: string[] };

test('a run that finishes: every metric ok, neighbour stopped before any guest is destroyed, artifacts written', async (t) => {
  const w = world();
  const dir = tempDir(t);
  const log: string[] = [];
  const samples = await measure(planned(cell('nb')), envFor(w.registry, dir, log), profile, new AbortController().signal, (l) => log.push(l));
  t.deepEqual(
    samples.map((s) => [s.metric, s.status, s.value]),
    [
      ['score', 'ok', 42],
      ['latency', 'ok', 1.5],
    ],
  );
  t.deepEqual(w.calls, ['provision target', 'setup target', 'provision nb', 'neighbour setup nb', 'neighbour start nb', 'run target', 'sh target: work --hard', 'neighbour stop', 'destroy nb', 'destroy target']);
  t.deepEqual(samples[0]!.neighbourDetail, { loops: 3 });
  // shares: the measured guest may use every host CPU, so calibration ran on all of them
  t.deepEqual(samples[0]!.calibration, { cpuMs: 10, memMs: 20, cpus: cpus().map((_, i) => i) });
  t.is(samples[0]!.suite, 'fake-suite');
  t.is(samples[0]!.cell, cell('nb').id);
  const r = runJson(dir, samples[0]!.artifacts!);
  t.is(r.status, 'ok');
  t.deepEqual(r.files, ['command.json']);
  const command = JSON.parse(readFileSync(join(dir, samples[0]!.artifacts!, 'command.json'), 'utf8')) as { commands: { script: string }[] };
  t.deepEqual(command.commands.map((c) => c.script), ['work --hard']);
  t.deepEqual(w.destroyed.sort(), w.provisioned.sort());
});

test('a run past its timeout is a DNF: the target is killed, the neighbour stopped, the guests destroyed', async (t) => {
  const w = world({
    // a workload that only ends when the runner gives up on it
    run: (_g, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })),
  });
  const dir = tempDir(t);
  const log: string[] = [];
  const t0 = Date.now();
  const samples = await measure(planned(cell('nb')), envFor(w.registry, dir, log), profile, new AbortController().signal, (l) => log.push(l));
  t.true(Date.now() - t0 < 5000, 'the runner did not wait past the timeout');
  for (const s of samples) {
    t.is(s.status, 'dnf');
    t.is(s.value, null);
    t.is(s.message, 'did not finish within 0.3 s');
  }
  t.true(w.calls.includes('killAll target'));
  t.true(w.calls.indexOf('neighbour stop') < w.calls.indexOf('destroy nb'));
  t.true(w.calls.indexOf('neighbour stop') < w.calls.indexOf('destroy target'));
  t.deepEqual(w.destroyed.sort(), w.provisioned.sort());
  t.is(runJson(dir, samples[0]!.artifacts!).status, 'dnf');
});

test('a setup that fails is an error with its message; run() never starts; the guest is destroyed', async (t) => {
  const w = world({
    setup: async () => {
      throw new Error('the dataset did not fit on the guest disk');
    },
  });
  const dir = tempDir(t);
  const samples = await measure(planned(cell('none')), envFor(w.registry, dir, []), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => s.status), ['error', 'error']);
  for (const s of samples) t.is(s.message, 'the dataset did not fit on the guest disk');
  t.false(w.calls.includes('run target'));
  t.deepEqual(w.destroyed, w.provisioned);
  t.is(w.destroyed.length, 1);
  t.is(runJson(dir, samples[0]!.artifacts!).message, 'the dataset did not fit on the guest disk');
});

test('a setup past the run timeout is an error that says so', async (t) => {
  const w = world({ setup: (_g, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true })) });
  const dir = tempDir(t);
  const samples = await measure(planned(cell('none')), envFor(w.registry, dir, []), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.status, s.message]), [
    ['error', 'setup did not finish within the run timeout'],
    ['error', 'setup did not finish within the run timeout'],
  ]);
  t.deepEqual(w.destroyed, w.provisioned);
});

test('a metric the workload did not return (or returned as NaN) is an error naming it; the others stay ok', async (t) => {
  const w = world({ run: async () => [{ metric: 'score', value: 7, unit: 'ops/s', better: 'higher' }] });
  const dir = tempDir(t);
  const samples = await measure(planned(cell('none')), envFor(w.registry, dir, []), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.status, s.value, s.message]), [
    ['score', 'ok', 7, undefined],
    ['latency', 'error', null, 'workload returned no value for latency'],
  ]);
  const nan = world({ run: async () => ok(7, Number.NaN) });
  const again = await measure(planned(cell('none')), envFor(nan.registry, dir, []), profile, new AbortController().signal, () => undefined);
  t.deepEqual(again.map((s) => s.status), ['ok', 'error']);
  t.is(again[1]!.message, 'workload returned no value for latency');
  t.deepEqual(w.destroyed, w.provisioned);
  t.deepEqual(nan.destroyed, nan.provisioned);
});

test('a neighbour guest that cannot be provisioned: the run is an error and the target is destroyed', async (t) => {
  const w = world({ failNeighbourProvision: true });
  const dir = tempDir(t);
  const samples = await measure(planned(cell('nb')), envFor(w.registry, dir, []), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.status, s.message]), [
    ['error', 'no room for the neighbour'],
    ['error', 'no room for the neighbour'],
  ]);
  t.false(w.calls.includes('run target'));
  t.deepEqual(w.destroyed, w.provisioned);
  t.is(w.destroyed.length, 1);
});

test('a failed calibration is said in the log; the run goes on without one', async (t) => {
  const w = world();
  const dir = tempDir(t);
  const log: string[] = [];
  const failing: RunEnv['rec']['calibrate'] = async () => {
    throw new Error('taskset: not found');
  };
  const samples = await measure(planned(cell('none')), envFor(w.registry, dir, log, failing), profile, new AbortController().signal, (l) => log.push(l));
  t.deepEqual(samples.map((s) => s.status), ['ok', 'ok']);
  t.is(samples[0]!.calibration, undefined);
  t.deepEqual(log, ['calibration failed (taskset: not found); this run has none']);
  t.is(runJson(dir, samples[0]!.artifacts!).calibration, null);
  t.deepEqual(w.destroyed, w.provisioned);
});

test('an aborted run (Ctrl-C) writes no sample and no further run starts; its guests are destroyed', async (t) => {
  const abort = new AbortController();
  let runs = 0;
  const w = world({
    run: async (_g, ctx) => {
      runs++;
      if (runs === 2) {
        abort.abort(); // Ctrl-C during the second measured run
        t.true(ctx.signal.aborted, 'the run sees the abort');
      }
      return ok(runs);
    },
  });
  const dir = tempDir(t);
  const file = join(dir, 'samples.jsonl');
  const writer = new SampleWriter(file);
  t.teardown(() => writer.close());
  const progress: string[] = [];
  const progressOut = { isTTY: false, write: (s: string) => progress.push(s) > 0 } as unknown as NodeJS.WriteStream;
  const todo = [planned(cell('nb'), 1, 0), planned(cell('nb'), 2, 1), planned(cell('nb'), 3, 2)];
  const errors = await runPlanned(todo, { env: envFor(w.registry, dir, []), profiles: { fake: profile }, writer, signal: abort.signal, estimateS: () => 1, progressOut });
  t.is(errors, 0);
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rep: number; metric: string; value: number });
  t.deepEqual(lines.map((l) => [l.rep, l.metric, l.value]), [
    [1, 'score', 1],
    [1, 'latency', 1.5],
  ]);
  t.is(runs, 2, 'the third run never started');
  t.is(w.provisioned.length, 4, 'target and neighbour of two runs');
  t.deepEqual(w.destroyed.sort(), w.provisioned.sort());
  t.true(w.calls.lastIndexOf('neighbour stop') < w.calls.lastIndexOf('destroy target'));
  t.true(progress.some((l) => l.startsWith(`ok  ${cell('nb').id} rep 1: score=1ops/s latency=1.5ms`)));
});

test('the real registry is the default, and its guest packages are the cached image\'s', (t) => {
  t.true('baremetal' in REGISTRY.drivers && 'lxc' in REGISTRY.drivers);
  t.deepEqual(guestPackagesOf(REGISTRY), allGuestPackages());
});

test('runSuite plans with the registry it is handed (names, cells, runs), not the real one', async (t) => {
  const w = world();
  const def: SuiteDefinition = { name: 'fake-suite', description: 'hand-made', rows: [{ resource: 'cpu', workload: 'w', neighbours: { competing: 'nb' } }], reference: 'no-neighbour', platforms: ['fake'] };
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  t.is(await runSuite(def, ['--dry-run', '--profile', 'smoke', '--reps', '2', '--warmup', '0'], io, w.registry), 0);
  t.true(out.includes('  fake/w/none:none/cpuset/hard/x1'), out.join('\n'));
  t.true(out.includes('  fake/w/competing:nb/cpuset/hard/x1   (vs fake/w/none:none/cpuset/hard/x1)'), out.join('\n'));
  t.true(out.some((l) => l.startsWith('4 runs, estimated ')), out.join('\n'));
  t.deepEqual(w.provisioned, [], 'a dry run starts nothing');
  t.is(await runSuite(def, ['--dry-run', '--platforms', 'lxc'], io, w.registry), 2);
  t.regex(err.at(-1)!, /unknown platform 'lxc'; valid: fake/);
});
