import test from 'ava';
import type { LoadedRun } from '../../analysis/resultdir.ts';
import { explainCell, findCell } from '../../analysis/explain.ts';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { hostPackagesFor } from '../../runner/index.ts';
import kvm from '../../drivers/kvm.ts';
import baremetal from '../../drivers/baremetal.ts';
import kernelCompile from '../../workloads/kernel-compile.ts';

const BM = 'baremetal/kernel-compile/none:none/cpuset/hard/x1';
const NB = 'baremetal/kernel-compile/competing:kernel-compile/cpuset/hard/x1';

function s(cell: string, rep: number, wall: number, start: string, context: Record<string, number>, reference?: string): Sample {
  return {
    suite: 'isolation', cell, platform: 'baremetal', workload: 'kernel-compile', resource: 'cpu',
    neighbourKind: cell === NB ? 'competing' : 'none', neighbour: cell === NB ? 'kernel-compile' : 'none',
    cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1, ...(reference ? { reference } : {}),
    rep, warmup: false, metric: 'wall_s', value: wall, unit: 's', better: 'lower', status: 'ok', accel: 'native',
    vcpus: 1, memoryBytes: 2 ** 30, start, end: start,
    calibration: { cpuMs: 50, memMs: 10, cpus: [0] }, context, artifacts: `runs/x#${rep}`,
  };
}

const run = (samples: Sample[]): LoadedRun => ({
  dir: '/r',
  manifest: { cells: [{ id: BM }, { id: NB, reference: BM }], harnessCpus: { measured: [0, 1], harness: 'all' } } as unknown as Manifest,
  samples,
  measured: samples,
  runsRecorded: samples.length,
  notes: [],
});

test('explain: the cell beside its reference, with monitor summaries, per-round ratios and the ratios', (t) => {
  const text = explainCell(
    run([
      s(BM, 1, 10, '2026-12-01T00:00:00Z', { host_psi_io_some_pct_mean: 1 }),
      s(NB, 1, 15, '2026-12-01T00:00:20Z', { host_psi_io_some_pct_mean: 40, neighbour_cpu_pct_mean: 95 }, BM),
      s(BM, 2, 11, '2026-12-01T00:01:00Z', { host_psi_io_some_pct_mean: 2 }),
      s(NB, 2, 16.5, '2026-12-01T00:01:30Z', { host_psi_io_some_pct_mean: 45, neighbour_cpu_pct_mean: 97 }, BM),
    ]),
    'competing',
  );
  t.regex(text, new RegExp(`^cell +${NB.replace(/[/:]/g, '.')}`, 'm'));
  t.regex(text, /^reference +baremetal\/kernel-compile\/none:none/m);
  t.regex(text, /harness on the same CPUs \(no spare one\)/);
  // one line per run, the cell's and the reference's, with the monitors' columns that any run has
  t.regex(text, /^run +start +wall_s +calib ms +calib sys ms +host io psi% +nbr cpu% +artifacts$/m);
  t.regex(text, /^cell #1 +00:00:20 +15 +50 +- +40 +95 +runs\/x#1$/m);
  t.regex(text, /^ref  #2 +00:01:00 +11 +50 +- +2 +- +runs\/x#2$/m);
  // per round: 15/10 and 16.5/11
  t.regex(text, /^#1 +20s +1\.5 +1$/m);
  t.regex(text, /^#2 +30s +1\.5 +1$/m);
  t.regex(text, /^wall_s +1\.5 +\[[\d.]+, [\d.]+\] +1\.5 +\[1\.5, 1\.5\] +0\.0%$/m);
});

test('explain: cells are found by id, path-safe id or a unique part; anything else is one clear error', (t) => {
  t.is(findCell([BM, NB], BM), BM);
  t.is(findCell([BM, NB], 'baremetal_kernel-compile_none_none_cpuset_hard_x1'), BM);
  t.throws(() => findCell([BM, NB], 'baremetal'), { message: /matches 2 cells/ });
  t.throws(() => findCell([BM, NB], 'lxc'), { message: /no cell matches 'lxc'; cells: / });
});

test('host packages: VM drivers bring depmod (kmod) and mke2fs; bare metal installs the workloads\' guest packages on the host', (t) => {
  for (const p of ['kmod', 'e2fsprogs', 'qemu-utils', 'busybox-static']) t.true(kvm.hostPackages.includes(p), p);
  const pkgs = hostPackagesFor([baremetal], [kernelCompile, { guestPackages: ['redis-server'] }]);
  t.true(pkgs.includes('redis-server'));
  t.true(pkgs.includes('linux-source'));
  t.false(hostPackagesFor([kvm], [{ guestPackages: ['redis-server'] }]).includes('redis-server'), 'a VM guest gets it in its image, not on the host');
});
