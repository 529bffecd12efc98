// Boot storms on a shared image and on private copies (experiments/storm.ts, the runner's
// copyImage, --storm-sizes and the free-space check) with a hand-made fake driver: no root, no
// guests. Every copy, provision, destroy and removal is recorded, so "the copies are made before
// the storm starts" and "every copy is removed" are checked, not assumed.
import test from 'ava';
import { fakeGuest } from '../fake-guest.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expandCells, type MatrixSelection, type PlannedRun, type SuiteDefinition } from '../../core/matrix.ts';
import { UsageError } from '../../core/errors.ts';
import type { Cell, Driver, Guest, GuestSpec, Profile } from '../../core/types.ts';
import { lxcConfig } from '../../drivers/lxc.ts';
import { PRIVATE_REPO, privateImageChanges, privateImagesIn } from '../../drivers/docker.ts';
import storm, { PRIVATE_NOTE, parseStormParam, stormParams, stormReference } from '../../experiments/storm.ts';
import { checkImageCopies } from '../../runner/image-copies.ts';
import { measure, type RunEnv } from '../../runner/measure.ts';
import { metricsOf, withExperiments, type Registry } from '../../runner/registry.ts';
import { runSuite } from '../../runner/suite.ts';
import lifecycle from '../../suites/lifecycle.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const profile: Profile = { name: 'smoke', vcpus: 1, memoryBytes: 256 * MiB, reps: 1, warmup: 0, timeoutS: 5, pidsMax: 100 };

/** A fake platform with private images; `events` is every copy, provision, destroy and removal in order. */
function world(o: { copies?: boolean; disk?: boolean; copyFails?: number } = {}) {
  const events: string[] = [];
  let copies = 0;
  const guest = (spec: GuestSpec): Guest =>
    fakeGuest(spec, {
      ...(o.disk === false ? {} : { diskBytes: async () => (spec.image === 'private' ? 1000 * MiB : 36 * 1024) }),
      destroy: async () => void events.push(`destroy ${spec.name}`),
    });
  const driver: Driver = {
    name: 'fake',
    description: 'hand-made fake platform',
    hostPackages: [],
    probe: async () => ({ ok: true }),
    provision: async (spec) => {
      events.push(`provision ${spec.name} ${spec.image ?? 'shared'} cpus ${spec.cpus.join(',')}`);
      return guest(spec);
    },
    ...(o.copies === false
      ? { noPrivateImage: 'fakes have no image' }
      : {
          copyImage: async (spec: GuestSpec) => {
            if (copies++ === o.copyFails) throw new Error('disk full');
            events.push(`copy ${spec.name} ${spec.image} cpus ${spec.cpus.join(',')}`);
            return { bytes: 1000 * MiB, seconds: 0.5, remove: async () => void events.push(`remove ${spec.name}`) };
          },
          imageCopyTarget: async () => ({ dir: tmpdir(), bytes: 1.2e9 }),
        }),
  };
  return { driver, events };
}

const cellOf = (param: string): Cell => ({ id: `fake/storm/${param}`, platform: 'fake', workload: 'storm', resource: 'cpu', neighbourKind: 'none', neighbour: 'none', cpuPolicy: 'shares', memoryLimit: 'hard', overcommit: 1, param });
const planned = (c: Cell): PlannedRun => ({ index: 0, cell: c, rep: 1, warmup: false });

function envFor(t: { teardown: (f: () => void) => void }, driver: Driver): RunEnv {
  const dir = mkdtempSync(join(tmpdir(), 'vb-storm-images-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return {
    suite: 'lifecycle',
    plan: { vcpus: 1, memoryBytes: 256 * MiB },
    prep: { profile, cacheDir: dir, guestPackages: [], log: () => undefined },
    shares: new Map(),
    registry: { drivers: { fake: driver }, workloads: {}, neighbours: {}, experiments: { storm } },
    rec: { dir, monitors: false, guestMitigations: 'host', calibrate: async (cpus) => ({ cpuMs: 10, memMs: 20, cpus }) },
  };
}

test('storm params: shared n<N> per size, n<N>-private at smoke only for 2, at quick and paper for every size that fits', (t) => {
  t.deepEqual(stormParams({ profile: 'smoke', memoryBytes: 1 * GiB, hostMemoryBytes: 24 * GiB }), { params: ['n1', 'n2', 'n2-private'] });
  t.deepEqual(stormParams({ profile: 'quick', memoryBytes: 2 * GiB, hostMemoryBytes: 24 * GiB }), { params: ['n1', 'n1-private', 'n2', 'n2-private', 'n4', 'n4-private', 'n8', 'n8-private'] });
  t.deepEqual(stormParams({ profile: 'paper', memoryBytes: 4 * GiB, hostMemoryBytes: 24 * GiB }), {
    params: ['n1', 'n1-private', 'n2', 'n2-private', 'n4', 'n4-private'],
    note: "storm: N = 8, 16 left out: 8 guests of 4.00 GiB exceed 3/4 of this host's 24.0 GiB memory",
  });
  // --storm-sizes: those sizes, each shared and private, at any profile
  t.deepEqual(stormParams({ profile: 'smoke', memoryBytes: 1 * GiB, hostMemoryBytes: 24 * GiB, stormSizes: [1, 4] }).params, ['n1', 'n1-private', 'n4', 'n4-private']);
  // --storm-images: one kind only
  t.deepEqual(stormParams({ profile: 'quick', memoryBytes: 2 * GiB, hostMemoryBytes: 24 * GiB, stormImages: 'shared' }).params, ['n1', 'n2', 'n4', 'n8']);
  t.deepEqual(stormParams({ profile: 'smoke', memoryBytes: 1 * GiB, hostMemoryBytes: 24 * GiB, stormImages: 'private' }).params, ['n2-private']);
  // asked for explicitly, a size that does not fit is bad input, not a note
  const err = t.throws(() => stormParams({ profile: 'smoke', memoryBytes: 1 * GiB, hostMemoryBytes: 24 * GiB, stormSizes: [2, 19] }));
  t.true(err instanceof UsageError);
  t.is(err!.message, "--storm-sizes 19: 19 guests of 1.00 GiB exceed 3/4 of this host's 24.0 GiB memory (at most 18 fit; give smaller sizes or a smaller --memory)");
  t.deepEqual(parseStormParam('n16-private'), { n: 16, image: 'private' });
  t.throws(() => parseStormParam('n2-shared'), { message: /unknown parameter 'n2-shared'/ });
  t.is(storm.imageCopies!('n4-private'), 4);
  t.is(storm.imageCopies!('n4'), 0);
});

test('storm references: n<N> against n1, n<N>-private against n<N>; a platform without private images skips those cells with one line', (t) => {
  t.is(stormReference('n1'), 'n1');
  t.is(stormReference('n8'), 'n1');
  t.is(stormReference('n8-private'), 'n8');
  t.is(stormReference('n1-private'), 'n1');
  const def: SuiteDefinition = { name: 's', description: 'hand-made', platforms: ['fake', 'bare'], rows: [], experiments: [storm] };
  const skipped: string[] = [];
  const sel: MatrixSelection = {
    platforms: ['fake', 'bare'],
    cpuPolicy: 'cpuset',
    memoryLimit: 'hard',
    overcommit: 1,
    experimentParams: { storm: ['n1', 'n2', 'n2-private', 'n4', 'n4-private'] },
    privateImages: { fake: true, bare: 'bare metal has no guest image' },
    onSkip: (l) => skipped.push(l),
  };
  t.deepEqual(
    expandCells(def, sel).map((c) => [c.id, c.reference]),
    [
      ['fake/storm/n1', undefined],
      ['fake/storm/n2', 'fake/storm/n1'],
      ['fake/storm/n2-private', 'fake/storm/n2'],
      ['fake/storm/n4', 'fake/storm/n1'],
      ['fake/storm/n4-private', 'fake/storm/n4'],
      ['bare/storm/n1', undefined],
      ['bare/storm/n2', 'bare/storm/n1'],
      ['bare/storm/n4', 'bare/storm/n1'],
    ],
  );
  t.deepEqual(skipped, ['skipping storm cells n2-private, n4-private on bare: they need a private image per guest, and bare metal has no guest image']);
  // an experiment whose reference is one parameter keeps working as before
  const fixed = { ...storm, reference: 'n2' };
  t.deepEqual(expandCells({ ...def, experiments: [fixed] }, { ...sel, platforms: ['fake'] }).map((c) => c.reference), ['fake/storm/n2', undefined, 'fake/storm/n2', 'fake/storm/n2', 'fake/storm/n2']);
});

test('a private storm: every copy made before the first guest is provisioned, each guest started on its own copy, copies removed after the guests', async (t) => {
  const w = world();
  const samples = await measure(planned(cellOf('n2-private')), envFor(t, w.driver), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.tenant, s.status]), [
    ['ready_s', 0, 'ok'],
    ['ready_s', 1, 'ok'],
    ['all_ready_s', undefined, 'ok'],
    ['disk_bytes', 0, 'ok'],
    ['disk_bytes', 1, 'ok'],
    ['copy_s', 0, 'ok'],
    ['copy_s', 1, 'ok'],
  ]);
  t.is(samples[0]!.note, PRIVATE_NOTE);
  t.is(samples[5]!.value, 0.5);
  t.is(samples[3]!.value, 1000 * MiB);
  const kinds = w.events.map((e) => e.split(' ')[0]);
  t.deepEqual(kinds, ['copy', 'copy', 'provision', 'provision', 'destroy', 'destroy', 'remove', 'remove']);
  // the guest started on a copy has the copy's name, tenant CPUs and image
  const copied = w.events.filter((e) => e.startsWith('copy')).map((e) => e.replace(/^copy (\S+) private/, '$1'));
  const started = w.events.filter((e) => e.startsWith('provision')).map((e) => e.replace(/^provision (\S+) private/, '$1'));
  t.deepEqual(started.sort(), copied.sort());
  // shared: no copy, no private guest; disk is the small layer
  const shared = world();
  const s2 = await measure(planned(cellOf('n2')), envFor(t, shared.driver), profile, new AbortController().signal, () => undefined);
  t.deepEqual(shared.events.filter((e) => e.startsWith('copy') || e.includes('private')), []);
  t.deepEqual(s2.filter((s) => s.metric === 'disk_bytes').map((s) => s.value), [36 * 1024, 36 * 1024]);
  t.deepEqual(s2.filter((s) => s.metric === 'copy_s'), []);
  t.is(s2[0]!.note, undefined);
});

test('a copy that fails half-way: the run is an error, the copy already made is removed, no guest is started', async (t) => {
  const w = world({ copyFails: 1 });
  const samples = await measure(planned(cellOf('n2-private')), envFor(t, w.driver), profile, new AbortController().signal, () => undefined);
  t.deepEqual([...new Set(samples.map((s) => `${s.status} ${s.message}`))], ['error disk full']);
  t.is(w.events.length, 2);
  t.regex(w.events[0]!, /^copy /);
  t.regex(w.events[1]!, /^remove /);
});

test('disk_bytes is optional: a platform whose guests do not report it gives no such sample and no error; resume does not wait for it', async (t) => {
  const w = world({ disk: false });
  const samples = await measure(planned(cellOf('n2')), envFor(t, w.driver), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.status]), [
    ['ready_s', 'ok'],
    ['ready_s', 'ok'],
    ['all_ready_s', 'ok'],
  ]);
  const reg = withExperiments({ drivers: {}, workloads: {}, neighbours: {} }, lifecycle);
  t.deepEqual(metricsOf(reg)('storm'), ['ready_s', 'all_ready_s']);
});

test('the free-space check: the largest private run per platform must fit on its copies\' disk', async (t) => {
  const w = world();
  const reg: Registry = { drivers: { fake: w.driver }, workloads: {}, neighbours: {}, experiments: { storm } };
  const cells = ['n1', 'n4', 'n4-private', 'n2-private'].map(cellOf);
  // 4 copies of 1.2 GB + 1 GiB headroom
  await t.notThrowsAsync(checkImageCopies(cells, reg, [], () => 4 * 1.2e9 + GiB));
  await t.throwsAsync(checkImageCopies(cells, reg, [], () => 4 * 1.2e9 + GiB - 1), {
    instanceOf: UsageError,
    message: /^fake\/storm\/n4-private needs 4 private copies of the fake image \(1\.1 GiB each\) plus 1\.0 GiB headroom, 5\.5 GiB, but \S+ has 5\.5 GiB free: give smaller --storm-sizes or free disk space$/,
  });
  // shared cells only: nothing to check
  await t.notThrowsAsync(checkImageCopies(['n1', 'n4'].map(cellOf), reg, [], () => 0));
});

async function run(def: SuiteDefinition, reg: Registry, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSuite(def, args, { out: (l) => out.push(l), err: (l) => err.push(l) }, reg);
  return { code, out, err };
}

test('bad input, one line, exit 2, nothing started: --storm-sizes too large for memory, private copies too large for the disk, bad sizes', async (t) => {
  const def: SuiteDefinition = { ...lifecycle, platforms: ['fake'] };
  const most = Math.floor((0.75 * totalmem()) / GiB);
  const cases: [Driver, string[], RegExp][] = [
    [world().driver, ['--storm-sizes', `1,${most + 1}`, '--memory', '1G'], new RegExp(`^virtbench: --storm-sizes ${most + 1}: ${most + 1} guests of 1\\.00 GiB exceed 3/4 of this host's`)],
    [{ ...world().driver, imageCopyTarget: async () => ({ dir: tmpdir(), bytes: 1024 ** 5 }) }, ['--storm-sizes', '2'], /^virtbench: fake\/storm\/n2-private needs 2 private copies of the fake image \(1048576\.0 GiB each\)/],
    [world().driver, ['--storm-sizes', '0'], /^virtbench: --storm-sizes takes whole numbers of at least 1 separated by commas, got '0'$/],
    [world().driver, ['--storm-sizes', '2,x'], /^virtbench: --storm-sizes takes whole numbers/],
    [world().driver, ['--storm-images', 'own'], /^virtbench: unknown storm image kind 'own'; valid: shared, private, both$/],
  ];
  for (const dryRun of [true, false]) {
    for (const [driver, args, re] of cases) {
      const events: string[] = [];
      const spy: Driver = { ...driver, provision: async (s, c) => (events.push('provision'), driver.provision(s, c)), copyImage: async (s, c) => (events.push('copy'), driver.copyImage!(s, c)), sweep: async () => (events.push('sweep'), []) };
      const r = await run(def, { drivers: { fake: spy }, workloads: {}, neighbours: {} }, ['--profile', 'smoke', ...(dryRun ? ['--dry-run'] : []), ...args]);
      t.is(r.code, 2, `${args.join(' ')}: ${r.err.join(' | ')}`);
      t.is(r.err.length, 1, r.err.join('\n'));
      // not root (no real run possible): refused for that, still exit 2 with one line
      if (!dryRun && process.getuid?.() !== 0) continue;
      t.regex(r.err[0]!, re);
      t.deepEqual(events, [], 'nothing started, not even a sweep');
    }
  }
  // a suite without a storm
  const other: SuiteDefinition = { ...lifecycle, experiments: lifecycle.experiments!.filter((e) => e.name !== 'storm'), platforms: ['fake'] };
  const r = await run(other, { drivers: { fake: world().driver }, workloads: {}, neighbours: {} }, ['--dry-run', '--storm-sizes', '2']);
  t.deepEqual([r.code, r.err], [2, ['virtbench: --storm-sizes: suite lifecycle has no storm experiment']]);
  const r2 = await run(other, { drivers: { fake: world().driver }, workloads: {}, neighbours: {} }, ['--dry-run', '--storm-images', 'shared']);
  t.deepEqual([r2.code, r2.err], [2, ['virtbench: --storm-images: suite lifecycle has no storm experiment']]);
});

test('the CLI itself: --storm-sizes beyond host memory is one line on stderr and exit 2', async (t) => {
  const n = Math.floor((0.75 * totalmem()) / GiB) + 1;
  const r = await execa(process.execPath, ['--import', 'tsx', 'cli/suite.ts', 'lifecycle', '--profile', 'smoke', '--platforms', 'lxc', '--memory', '1G', '--storm-sizes', `2,${n}`], { reject: false });
  t.is(r.exitCode, 2);
  t.is(r.stdout, '');
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`^virtbench: --storm-sizes ${n}: `));
});

test('the lifecycle smoke plan: n2-private on a platform with private images, against n2; estimates include the copies', async (t) => {
  const w = world();
  const r = await run({ ...lifecycle, platforms: ['fake'] }, { drivers: { fake: w.driver }, workloads: {}, neighbours: {} }, ['--dry-run', '--profile', 'smoke', '--seed', '1', '--workloads', 'storm']);
  t.is(r.code, 0, r.err.join('\n'));
  t.deepEqual(r.out.filter((l) => l.startsWith('  ')), ['  fake/storm/n1', '  fake/storm/n2   (vs fake/storm/n1)', '  fake/storm/n2-private   (vs fake/storm/n2)']);
  // n1 3 s, n2 4 s, n2-private 4 + 2 x 10 s; 3 reps
  t.true(r.out.includes('9 runs, estimated 1m33s'), r.out.join('\n'));
  t.deepEqual(w.events, []);
});

test('drivers: lxc starts a private guest on its own directory, not an overlay; docker private image settings and leftovers from its tag file', (t) => {
  const spec = { name: 'g', vcpus: 1, cpus: [0], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: GiB, memoryLimit: 'hard', ioWeight: 500, pidsMax: 100, network: false, shares: [] } as GuestSpec;
  t.regex(lxcConfig({ spec, rootfs: '/var/lib/virtbench/lxc/g/rootfs', cgroupVersion: 1, ceilingBytes: GiB }), /^lxc\.rootfs\.path = dir:\/var\/lib\/virtbench\/lxc\/g\/rootfs$/m);
  t.regex(lxcConfig({ spec, rootfs: '/r', upper: '/u', cgroupVersion: 1, ceilingBytes: GiB }), /^lxc\.rootfs\.path = overlay:\/r:\/u$/m);
  t.deepEqual(privateImageChanges('bookworm-x', 'vb1-2-g0'), [
    '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change', 'CMD ["/usr/bin/tini", "-s", "--", "/bin/sleep", "infinity"]',
    '--change', 'LABEL virtbench.rootfs=bookworm-x virtbench.private=vb1-2-g0',
  ]);
  // the shape of dockerd's repositories.json (hand-made, after the file on this host)
  const repos = JSON.stringify({ Repositories: { 'virtbench/guest': { 'virtbench/guest:a': 'sha256:1' }, [PRIVATE_REPO]: { [`${PRIVATE_REPO}:vb1-2-g0`]: 'sha256:2' } } });
  t.deepEqual(privateImagesIn(repos), [`${PRIVATE_REPO}:vb1-2-g0`]);
  t.deepEqual(privateImagesIn('{"Repositories":{}}'), []);
  t.deepEqual(privateImagesIn('not json'), []);
});
