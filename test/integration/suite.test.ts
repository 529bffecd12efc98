// The README's main command at the smoke profile on bare metal and LXC, end to end, at the smallest
// size that proves every workload, every neighbour and both matrix suites work: every cell gets a
// summary row with every column, and nothing is left on the host. The whole isolation matrix at 2
// repetitions (34 cells, about 16 minutes) is in `npm run test:long`.
import test from 'ava';
import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { acquireLock } from '../../core/lock.ts';
import { leftovers } from './leftovers.ts';
import { checkSummary, smokeRun, suiteCli as suite } from './smoke.ts';
import { tempDir } from '../tmp.ts';

const qemuPids = async () => (await execa('pgrep', ['-f', 'qemu-system'], { reject: false })).stdout.split('\n').filter(Boolean);

test('bad input: one line, exit 2, nothing written', async (t) => {
  const out = tempDir('vb-bad-');
  for (const [args, re] of [
    [['nosuch'], /unknown suite 'nosuch'; valid: .*isolation/],
    [['isolation', '--platforms', 'xen', '--out', out], /unknown platform 'xen'; valid: baremetal, lxc/],
    [['isolation', '--profile', 'huge', '--out', out], /unknown profile 'huge'/],
    [['isolation', '--reps', '-1', '--out', out], /reps/],
  ] as const) {
    const r = await suite([...args]);
    t.is(r.exitCode, 2, r.all);
    t.regex(r.all ?? '', re);
    t.is((r.all ?? '').trim().split('\n').length, 1, `one line: ${r.all}`);
  }
  t.deepEqual(readdirSync(out), [], 'no result directory half-written');
});

test('dry run prints the plan and runs nothing', async (t) => {
  const out = tempDir('vb-dry-');
  const r = await suite(['isolation', '--profile', 'smoke', '--platforms', 'baremetal,lxc', '--dry-run', '--out', out]);
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /34 cells:/);
  t.regex(r.all ?? '', /102 runs, estimated \d+m\d+s/);
  t.deepEqual(readdirSync(out), []);
});

// A dry run beside a running suite must not load the host it measures: while the host lock is held,
// a dry run of a VM platform boots no probe guest (the accelerator comes from the last probe's
// verdict, or /dev/kvm) and says so. Serial: it holds the lock the other tests' runs take.
test.serial('dry run while another run holds the host: the plan, and no probe guest booted beside it', async (t) => {
  const release = await acquireLock();
  try {
    const qemuBefore = await qemuPids();
    const r = await suite(['isolation', '--profile', 'smoke', '--platforms', 'kvm', '--workloads', 'filebench', '--dry-run', '--out', tempDir('vb-dry-busy-')]);
    t.is(r.exitCode, 0, r.all);
    t.regex(r.all ?? '', /is using this host .*; a dry run boots no probe guest beside it/);
    const qemuInstalled = (await execa('qemu-system-x86_64', ['--version'], { reject: false })).exitCode === 0;
    if (qemuInstalled) t.regex(r.all ?? '', /kvm: accelerator not probed \(/, 'the kvm probe answered without a boot');
    t.regex(r.all ?? '', /runs, estimated /);
    t.deepEqual((await qemuPids()).filter((p) => !qemuBefore.includes(p)), [], 'no QEMU left from the dry run');
  } finally {
    await release();
  }
});

// Every workload alone on lxc is in the isolation test below; two quick ones are enough to prove
// the baseline's repetitions and ratios to bare metal (kernel compile and the JVM take minutes).
test('baseline suite on baremetal and lxc: filebench and ycsb-redis alone, 2 reps, ratios to bare metal', async (t) => {
  const REPS = 2;
  const run = await smokeRun('baseline', ['--platforms', 'baremetal,lxc', '--workloads', 'filebench,ycsb-redis', '--reps', String(REPS)]);
  t.log(`smoke baseline on baremetal+lxc: ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  const workloads = ['filebench', 'ycsb-redis'];
  t.deepEqual([...new Set(run.manifest.cells.map((c) => c.workload))].sort(), [...workloads].sort());
  t.is(run.manifest.cells.length, 2 * workloads.length);
  t.is(run.manifest.options.seed, 1);
  t.true(run.manifest.tools.lxc !== 'not installed');
  t.is(new Set(run.samples.map((s) => `${s.cell}#${s.rep}`)).size, run.manifest.cells.length * REPS);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.status} ${s.message}`), [], 'every smoke run finishes');
  checkSummary(t, run, REPS);
  for (const row of run.rows.filter((r) => r.platform === 'lxc')) t.regex(row.reference ?? '', /^baremetal\//, `${row.cell}: compared with bare metal`);
  const lxcSamples = run.samples.filter((s) => s.platform === 'lxc');
  t.true(lxcSamples.every((s) => typeof s.bootSeconds === 'number' && s.bootSeconds > 0), 'lxc samples carry the launch time');
  t.true(run.samples.filter((s) => s.platform === 'baremetal').every((s) => s.bootSeconds === undefined), 'bare metal has none');
  const boots = lxcSamples.map((s) => s.bootSeconds!);
  t.log(`lxc launch: ${Math.min(...boots).toFixed(3)}-${Math.max(...boots).toFixed(3)} s`);
  t.deepEqual(await leftovers(), []);
});

test('isolation suite on lxc: every workload beside each of its neighbours (all eight), 1 rep', async (t) => {
  const run = await smokeRun('isolation', ['--platforms', 'lxc', '--reps', '1']);
  t.log(`smoke isolation on lxc: ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  t.is(run.manifest.cells.length, 17);
  t.deepEqual([...new Set(run.manifest.cells.map((c) => c.resource))].sort(), ['cpu', 'disk', 'memory', 'network']);
  t.deepEqual(
    [...new Set(run.manifest.cells.map((c) => c.neighbour))].filter((n) => n !== 'none').sort(),
    ['bonnie', 'filebench', 'fork-bomb', 'kernel-compile', 'malloc-bomb', 'specjbb-like', 'udp-flood', 'ycsb-redis'],
  );
  for (const w of ['kernel-compile', 'filebench', 'specjbb-like', 'ycsb-redis', 'rubis']) {
    t.true(run.manifest.cells.some((c) => c.workload === w && c.neighbour === 'none'), `${w} alone`);
  }
  t.is(new Set(run.samples.map((s) => s.cell)).size, 17);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.status} ${s.message}`), [], 'every smoke run finishes');
  checkSummary(t, run, 1);
  t.deepEqual(await leftovers(), []);
});
