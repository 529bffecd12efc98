// One run of a multi-tenant cell (runner/tenants.ts) with a fake driver and a fake workload handed
// in as the registry: every tenant provisioned in the arena, the busy ones run at the same time
// under one deadline, each busy tenant one sample set with its index, an OOM-killed tenant an
// error that says so, and every guest and the arena gone afterwards, whatever happened.
// The arena is real (drivers/arena.ts makes a memory cgroup under the harness group), so this
// needs root, as the whole test suite does; the budget covers the tenants, so no swap file is made.
import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlannedRun } from '../../core/matrix.ts';
import type { TenancyHost } from '../../core/tenancy.ts';
import type { Cell, Driver, Guest, GuestSpec, Metric, Profile, RunContext, Workload } from '../../core/types.ts';
import { allCgroupMounts, HARNESS_GROUP } from '../../drivers/cgroups.ts';
import type { RunEnv } from '../../runner/measure.ts';
import { guestPackagesOf, type Registry } from '../../runner/registry.ts';
import { fakeGuest } from '../fake-guest.ts';
import { measureTenants } from '../../runner/tenants.ts';

const MiB = 1024 ** 2;
const profile: Profile = { name: 'smoke', vcpus: 1, memoryBytes: 256 * MiB, reps: 1, warmup: 0, timeoutS: 0.5, pidsMax: 100 };
const host: TenancyHost = { cpus: 2, memoryBytes: 8192 * MiB, swapBytes: 0, memoryBudget: 512 * MiB, vcpus: 1, guestMemoryBytes: 256 * MiB };

interface Script {
  /** What tenant `t`'s run does (default: one metric, 10 + t). */
  run?: (t: number, ctx: RunContext) => Promise<Metric[]>;
  /** OOM kills the tenant's guest reports. */
  oomKills?: (t: number) => number;
  /** Provisioning tenant `t` fails. */
  failProvision?: number;
}

const tenantOf = (g: { name: string }) => Number(/-t(\d+)$/.exec(g.name)![1]);

function world(script: Script = {}) {
  const calls: string[] = [];
  const specs: GuestSpec[] = [];
  const destroyed: string[] = [];
  const guest = (spec: GuestSpec): Guest =>
    fakeGuest(spec, {
      killAll: async () => void calls.push(`killAll t${tenantOf(spec)}`),
      destroy: async () => void destroyed.push(spec.name),
      oomKills: async () => script.oomKills?.(tenantOf(spec)) ?? 0,
    });
  const driver: Driver = {
    name: 'fake',
    description: 'hand-made fake platform',
    hostPackages: [],
    probe: async () => ({ ok: true }),
    provision: async (spec) => {
      if (script.failProvision === tenantOf(spec)) throw new Error(`no room for tenant ${tenantOf(spec)}`);
      specs.push(spec);
      return guest(spec);
    },
  };
  let running = 0;
  let peak = 0;
  const workload: Workload = {
    name: 'w',
    resource: 'cpu',
    description: 'hand-made fake workload',
    metrics: [{ metric: 'score', unit: 'ops/s', better: 'higher' }],
    guestPackages: [],
    setup: async (g) => void calls.push(`setup t${tenantOf(g)}`),
    run: async (g, ctx) => {
      const t = tenantOf(g);
      calls.push(`run t${t}`);
      running++;
      peak = Math.max(peak, running);
      try {
        await new Promise((r) => setTimeout(r, 50));
        return script.run ? await script.run(t, ctx) : [{ metric: 'score', value: 10 + t, unit: 'ops/s', better: 'higher' }];
      } finally {
        running--;
      }
    },
  };
  const registry: Registry = { drivers: { fake: driver }, workloads: { w: workload }, neighbours: {} };
  return { calls, specs, destroyed, registry, peak: () => peak };
}

/** What every fake cell here shares: the fake platform and workload, no neighbour. */
const fakeCell = { platform: 'fake', workload: 'w', resource: 'cpu', neighbourKind: 'none', neighbour: 'none' } as const;

const allocation = (busy: 'all' | 'one', cpuPolicy: Cell['cpuPolicy'] = 'shares'): Cell => ({
  id: `fake/w/none:none/${cpuPolicy}/hard/x1/t2${busy === 'one' ? '/busy-one' : ''}/c1`,
  ...fakeCell,
  cpuPolicy,
  memoryLimit: 'hard',
  overcommit: 1,
  tenants: 2,
  busy,
  cpusPerTenant: 1,
  group: 'allocation',
});

const overcommit = (n: number): Cell => ({
  id: `fake/w/none:none/cpuset/hard/x1/t${n}`,
  ...fakeCell,
  cpuPolicy: 'cpuset',
  memoryLimit: 'hard',
  overcommit: 1,
  tenants: n,
  group: 'overcommit',
});

const planned = (c: Cell): PlannedRun => ({ index: 0, cell: c, rep: 1, warmup: false });

function env(registry: Registry, dir: string): RunEnv {
  return {
    suite: 'fake-suite',
    plan: { vcpus: 1, memoryBytes: 256 * MiB, tenancy: host },
    prep: { profile, cacheDir: dir, guestPackages: guestPackagesOf(registry), log: () => undefined },
    shares: new Map(),
    registry,
    rec: { dir, monitors: false, guestMitigations: 'host', calibrate: async (cpus) => ({ cpuMs: 10, memMs: 20, cpus }) },
  };
}

/** Arena groups under the harness group in any hierarchy (each test's run must leave none of its own). */
const arenas = () => allCgroupMounts().filter((m) => existsSync(join(m, HARNESS_GROUP)));

async function run(t: { teardown: (f: () => void) => void }, c: Cell, script: Script = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vb-tenants-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const w = world(script);
  const log: string[] = [];
  const samples = await measureTenants(planned(c), env(w.registry, dir), profile, new AbortController().signal, (l) => log.push(l));
  return { ...w, samples, log };
}

/** No arena-<id> group of this process is left in any hierarchy. */
function noArenaLeft(t: { true: (v: boolean, m?: string) => void }, specs: GuestSpec[]) {
  const names = new Set(specs.map((s) => s.arena!));
  for (const m of arenas()) for (const a of names) t.true(!existsSync(join(m, HARNESS_GROUP, a)), `${a} left in ${m}`);
}

test('overcommit: every tenant runs at the same time in one arena, one sample each with its index', async (t) => {
  const r = await run(t, overcommit(2));
  t.is(r.specs.length, 2);
  t.is(new Set(r.specs.map((s) => s.arena)).size, 1, 'one arena for all tenants');
  t.truthy(r.specs[0]!.arena);
  t.deepEqual(r.specs.map((s) => s.cpus), [[0], [1]]);
  t.is(r.peak(), 2, 'both tenants ran at once');
  t.deepEqual(r.samples.map((s) => [s.tenant, s.metric, s.status, s.value, s.tenants, s.group]), [
    [0, 'score', 'ok', 10, 2, 'overcommit'],
    [1, 'score', 'ok', 11, 2, 'overcommit'],
  ]);
  t.true(r.samples.every((s) => s.oomKills === 0 && s.memoryBytes === 256 * MiB && s.vcpus === 1));
  t.deepEqual(r.destroyed.sort(), r.specs.map((s) => s.name).sort());
  noArenaLeft(t, r.specs);
});

test('allocation, only one busy: the idle tenant is provisioned but never set up or run, and has no sample', async (t) => {
  const r = await run(t, allocation('one'));
  t.is(r.specs.length, 2);
  // shares: every tenant may use every CPU, with C vCPUs, equal weights
  t.deepEqual(r.specs.map((s) => [s.vcpus, s.cpus, s.cpuShares, s.cpuQuota]), [
    [2, [0, 1], 1024, undefined],
    [2, [0, 1], 1024, undefined],
  ]);
  t.deepEqual(r.calls, ['setup t0', 'run t0']);
  t.deepEqual(r.samples.map((s) => [s.tenant, s.busy, s.status, s.value]), [[0, 'one', 'ok', 10]]);
  t.is(r.destroyed.length, 2);
  noArenaLeft(t, r.specs);
});

test('allocation by quota: each tenant capped at C/k CPUs of its C vCPUs', async (t) => {
  const r = await run(t, allocation('all', 'quota'));
  t.deepEqual(r.specs.map((s) => [s.vcpus, s.cpuQuota]), [
    [2, 0.5],
    [2, 0.5],
  ]);
  t.is(r.samples.length, 2);
});

test('a tenant the OOM killer hit is an error sample that says so; the other tenant keeps its result', async (t) => {
  const r = await run(t, overcommit(2), {
    run: async (tenant) => {
      if (tenant === 1) throw new Error('specjbb-like exited with 137');
      return [{ metric: 'score', value: 10, unit: 'ops/s', better: 'higher' }];
    },
    oomKills: (tenant) => (tenant === 1 ? 3 : 0),
  });
  const [a, b] = r.samples;
  t.is(a!.status, 'ok');
  t.is(a!.value, 10);
  t.is(b!.status, 'error');
  t.is(b!.value, null);
  t.is(b!.oomKills, 3);
  t.regex(b!.message!, /^OOM-killed inside the arena \(3 kill\(s\) in tenant 1's guest\): specjbb-like exited with 137$/);
  noArenaLeft(t, r.specs);
});

test('a tenant still running at the deadline is a DNF and is killed; one that finished keeps its value', async (t) => {
  const r = await run(t, overcommit(2), {
    run: (tenant, ctx) =>
      tenant === 0
        ? Promise.resolve([{ metric: 'score', value: 7, unit: 'ops/s', better: 'higher' }])
        : new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })),
  });
  t.deepEqual(r.samples.map((s) => [s.tenant, s.status, s.value]), [
    [0, 'ok', 7],
    [1, 'dnf', null],
  ]);
  t.is(r.samples[1]!.message, 'did not finish within 0.5 s');
  t.true(r.calls.includes('killAll t1'));
  t.deepEqual(r.destroyed.sort(), r.specs.map((s) => s.name).sort());
});

test('a tenant that cannot be provisioned makes every tenant an error; the ones provisioned are destroyed, the arena removed', async (t) => {
  const r = await run(t, overcommit(2), { failProvision: 1 });
  t.deepEqual(r.samples.map((s) => [s.tenant, s.status, s.message]), [
    [0, 'error', 'no room for tenant 1'],
    [1, 'error', 'no room for tenant 1'],
  ]);
  t.deepEqual(r.calls, [], 'no tenant was set up or run');
  t.deepEqual(r.destroyed, [r.specs[0]!.name]);
  noArenaLeft(t, r.specs);
});

test('a tenant whose workload returns no value for a metric is an error for that metric', async (t) => {
  const r = await run(t, overcommit(2), { run: async (tenant) => (tenant === 0 ? [{ metric: 'score', value: Number.NaN, unit: 'ops/s', better: 'higher' }] : [{ metric: 'score', value: 5, unit: 'ops/s', better: 'higher' }]) });
  t.deepEqual(r.samples.map((s) => [s.tenant, s.status, s.value, s.message]), [
    [0, 'error', null, 'workload returned no value for score'],
    [1, 'ok', 5, undefined],
  ]);
});
