// The lifecycle suite's image and cow experiments without root or guests: which platform gets which
// cell (and the line said for the ones left out), the tar's member choice, the timed write job
// run for real by bash on a temporary directory, a plain directory asked for through the run's
// provision and refused by a platform that cannot give one, and a platform without an image build.
import test from 'ava';
import { fakeGuest } from '../fake-guest.ts';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandCells, type MatrixSelection, type PlannedRun } from '../../core/matrix.ts';
import type { Cell, Driver, Experiment, GuestSpec, Profile } from '../../core/types.ts';
import { qemuArgs } from '../../drivers/kvm.ts';
import { microvmArgs } from '../../drivers/lightvm.ts';
import cow, { cowSkip, parseWriteJob, pickMembers, writeJob } from '../../experiments/cow.ts';
import image, { imageSkip } from '../../experiments/image.ts';
import { measure, type RunEnv } from '../../runner/measure.ts';
import type { Registry } from '../../runner/registry.ts';
import lifecycle from '../../suites/lifecycle.ts';

const MiB = 1024 ** 2;
const profile: Profile = { name: 'smoke', vcpus: 1, memoryBytes: 256 * MiB, reps: 1, warmup: 0, timeoutS: 5, pidsMax: 100 };

test('image and cow cells per platform: bare metal has no image and only a plain cow cell, lxcvm no cow cell, each said in one line', (t) => {
  const skipped: string[] = [];
  const sel: MatrixSelection = {
    platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm', 'lxcvm'],
    cpuPolicy: 'cpuset',
    memoryLimit: 'hard',
    overcommit: 1,
    workloads: ['image', 'cow'],
    experimentParams: { image: ['build'], cow: ['plain', 'layer'] },
    onSkip: (l) => skipped.push(l),
  };
  const cells = expandCells(lifecycle, sel);
  t.deepEqual(
    cells.map((c) => [c.id, c.reference]),
    [
      ['baremetal/cow/plain', undefined],
      ['lxc/image/build', undefined],
      ['lxc/cow/plain', undefined],
      ['lxc/cow/layer', 'lxc/cow/plain'],
      ['docker/image/build', undefined],
      ['docker/cow/plain', undefined],
      ['docker/cow/layer', 'docker/cow/plain'],
      ['kvm/image/build', undefined],
      ['kvm/cow/plain', undefined],
      ['kvm/cow/layer', 'kvm/cow/plain'],
      ['lightvm/image/build', undefined],
      ['lightvm/cow/plain', undefined],
      ['lightvm/cow/layer', 'lightvm/cow/plain'],
      ['lxcvm/image/build', undefined],
    ],
  );
  t.deepEqual(skipped, [
    `baremetal/image/build skipped: ${imageSkip('baremetal')}`,
    `baremetal/cow/layer skipped: ${cowSkip('baremetal', 'layer')}`,
    `lxcvm/cow/plain skipped: ${cowSkip('lxcvm', 'plain')}`,
    `lxcvm/cow/layer skipped: ${cowSkip('lxcvm', 'layer')}`,
  ]);
  t.regex(skipped[0]!, /no image/);
  t.deepEqual(image.params({ profile: 'smoke', memoryBytes: MiB, hostMemoryBytes: MiB }).params, ['build']);
  t.deepEqual(cow.params({ profile: 'smoke', memoryBytes: MiB, hostMemoryBytes: MiB }).params, ['plain', 'layer']);
  t.is(cow.reference, 'plain');
});

test('the cow tar takes entries in the given order until the target size, leaving out empty ones and any over a quarter of the target', (t) => {
  const sized = [
    { path: 'usr/share/b', bytes: 10 },
    { path: 'usr/share/c', bytes: 0 },
    { path: 'usr/share/d', bytes: 30 },
    { path: 'usr/lib/a', bytes: 20 },
  ];
  t.deepEqual(pickMembers(sized, 100), { paths: ['usr/share/b', 'usr/lib/a'], bytes: 30 }, 'd is over 25');
  t.deepEqual(pickMembers(sized, 120), { paths: ['usr/share/b', 'usr/share/d', 'usr/lib/a'], bytes: 60 });
  t.deepEqual(pickMembers(sized, 40), { paths: ['usr/share/b'], bytes: 10 });
  t.deepEqual(pickMembers(sized, 0), { paths: [], bytes: 0 });
});

test('the write job, run by bash: unpacks every file into the target and prints a non-negative duration', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vb-cow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(join(src, 'd', `f${i}`), 'x'.repeat(i * 100));
  execFileSync('tar', ['-C', src, '-cf', join(dir, 'it s.tar'), 'd']);
  const target = join(dir, "out 'q'");
  const out = execFileSync('bash', ['-c', writeJob(join(dir, 'it s.tar'), target)], { encoding: 'utf8' });
  const s = parseWriteJob(out);
  t.true(s >= 0 && s < 30, `${s} s`);
  t.is(readdirSync(join(target, 'd')).length, 50);
  t.throws(() => parseWriteJob('tar: error\n'), { message: /unexpected output of the write job/ });
  t.throws(() => parseWriteJob('5 4\n'), { message: /unexpected output/ });
});

/** A fake platform that records the specs it is given; plain directories only when `plain`. */
function fakeDriver(plain: boolean) {
  const specs: GuestSpec[] = [];
  const destroyed: string[] = [];
  const driver: Driver = {
    name: 'fake',
    description: 'hand-made fake platform',
    hostPackages: [],
    probe: async () => ({ ok: true }),
    provision: async (spec) => {
      if (spec.plainDir && !plain) throw new Error('fake cannot give a plain directory');
      specs.push(spec);
      return fakeGuest(spec, { ...(spec.plainDir ? { plainDir: '/nonexistent-plain' } : {}), destroy: async () => void destroyed.push(spec.name) });
    },
  };
  return { driver, specs, destroyed };
}

function envFor(t: { teardown: (f: () => void) => void }, driver: Driver, exps: Experiment[]): RunEnv {
  const dir = mkdtempSync(join(tmpdir(), 'vb-image-cow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const registry: Registry = { drivers: { fake: driver }, workloads: {}, neighbours: {}, experiments: Object.fromEntries(exps.map((e) => [e.name, e])) };
  return {
    suite: 'fake-suite',
    plan: { vcpus: 1, memoryBytes: 256 * MiB },
    prep: { profile, cacheDir: dir, guestPackages: [], log: () => undefined },
    shares: new Map(),
    registry,
    rec: { dir, monitors: false, guestMitigations: 'host', calibrate: async (cpus) => ({ cpuMs: 10, memMs: 20, cpus }) },
  };
}

const cellOf = (name: string, param: string): Cell => ({ id: `fake/${name}/${param}`, platform: 'fake', workload: name, resource: 'disk', neighbourKind: 'none', neighbour: 'none', cpuPolicy: 'shares', memoryLimit: 'hard', overcommit: 1, param });
const planned = (c: Cell): PlannedRun => ({ index: 0, cell: c, rep: 1, warmup: false });

test('a plain directory is asked for through the run\'s provision; a platform that cannot give one fails the run with its reason, guest-less', async (t) => {
  const exp: Experiment = {
    name: 'exp',
    resource: 'disk',
    description: 'hand-made experiment',
    metrics: [{ metric: 'write_s', unit: 's', better: 'lower' }],
    guestPackages: [],
    params: () => ({ params: ['a'] }),
    estimateS: () => 1,
    async run(ctx) {
      const g = await ctx.provision(0, { plainDir: true });
      return { metrics: [{ metric: 'write_s', value: g.plainDir === '/nonexistent-plain' ? 1 : 0 }] };
    },
  };
  const yes = fakeDriver(true);
  const ok = await measure(planned(cellOf('exp', 'a')), envFor(t, yes.driver, [exp]), profile, new AbortController().signal, () => undefined);
  t.deepEqual(ok.map((s) => [s.status, s.value]), [['ok', 1]]);
  t.true(yes.specs[0]!.plainDir);
  t.is(yes.specs[0]!.memoryBytes, 256 * MiB, 'the rest of the spec is the run\'s');
  t.deepEqual(yes.destroyed, yes.specs.map((s) => s.name));
  const no = fakeDriver(false);
  const bad = await measure(planned(cellOf('exp', 'a')), envFor(t, no.driver, [exp]), profile, new AbortController().signal, () => undefined);
  t.deepEqual(bad.map((s) => [s.status, s.message]), [['error', 'fake cannot give a plain directory']]);
  t.deepEqual(no.specs, []);
});

test('image on a platform it knows no build for: an error for every metric saying so, before any rootfs or temporary place', async (t) => {
  const w = fakeDriver(true);
  const samples = await measure(planned(cellOf('image', 'build')), envFor(t, w.driver, [image]), profile, new AbortController().signal, () => undefined);
  t.deepEqual(samples.map((s) => [s.metric, s.status, s.message]), [
    ['build_s', 'error', 'no image build is known for platform fake'],
    ['image_bytes', 'error', 'no image build is known for platform fake'],
    ['rootfs_s', 'error', 'no image build is known for platform fake'],
  ]);
  t.deepEqual(w.specs, [], 'image builds without a guest');
});

test('a VM\'s plain disk: raw, after the root (or scratch) disk, with the same cache and aio as it', (t) => {
  const base = { accel: 'tcg' as const, vcpus: 1, memoryBytes: 256 * MiB, kernel: '/k', initramfs: '/i', append: '', console: '/c', disk: '/d/root.qcow2', plainDisk: '/d/plain.raw' };
  const drives = (a: string[]) => a.flatMap((x, i) => (x === '-drive' ? [a[i + 1]!] : []));
  t.deepEqual(drives(qemuArgs(base)), ['file=/d/root.qcow2,if=virtio,format=qcow2,cache=none,aio=threads,discard=unmap', 'file=/d/plain.raw,if=virtio,format=raw,cache=none,aio=threads,discard=unmap']);
  t.deepEqual(drives(microvmArgs({ ...base, rootDir: '/r' })), ['id=scratch,file=/d/root.qcow2,if=none,format=qcow2,cache=none,aio=threads,discard=unmap', 'id=plain,file=/d/plain.raw,if=none,format=raw,cache=none,aio=threads,discard=unmap']);
  const { plainDisk: _, ...without } = base;
  t.is(drives(qemuArgs(without)).length, 1);
});
