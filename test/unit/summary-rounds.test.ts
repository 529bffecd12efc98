import test from 'ava';
import type { Sample } from '../../core/types.ts';
import { summarize, summaryCsv, SUMMARY_COLUMNS } from '../../analysis/summary.ts';

function sample(cell: string, rep: number, value: number, calibMs: number, reference?: string): Sample {
  return {
    suite: 'baseline',
    cell,
    platform: cell,
    workload: 'kernel-compile',
    resource: 'cpu',
    neighbourKind: 'none',
    neighbour: 'none',
    cpuPolicy: 'cpuset',
    memoryLimit: 'hard',
    overcommit: 1,
    ...(reference ? { reference } : {}),
    rep,
    warmup: false,
    metric: 'wall_s',
    value,
    unit: 's',
    better: 'lower',
    status: 'ok',
    accel: 'native',
    vcpus: 2,
    memoryBytes: 2 ** 30,
    start: '2026-12-01T00:00:00.000Z',
    end: '2026-12-01T00:01:00.000Z',
    calibration: { cpuMs: calibMs, memMs: 10, cpus: [0, 1] },
  };
}

test('round_ratio pairs each rep with the reference rep of the same round; drift beyond the effect is noted', (t) => {
  // a host that drifts from 84 s to 70 s and back, both cells alike: the pooled ratio's CI is wide,
  // the within-round one narrow (same values as the hand-computed case in rounds.test.ts)
  const samples = [
    sample('bm', 1, 84, 50), sample('bm', 2, 77, 55), sample('bm', 3, 70, 45),
    sample('lxc', 1, 82, 50, 'bm'), sample('lxc', 2, 75, 56, 'bm'), sample('lxc', 3, 71, 46, 'bm'),
  ];
  const rows = summarize(samples);
  const lxc = rows.find((r) => r.cell === 'lxc')!;
  t.is(lxc.round_pairs, 3);
  t.true(Math.abs(lxc.round_ratio - 0.987996) < 1e-6);
  t.true(Math.abs(lxc.round_ratio_ci95_low - 0.933662) < 1e-6);
  t.true(Math.abs(lxc.round_ratio_ci95_high - 1.045492) < 1e-6);
  t.true(lxc.round_ratio_ci95_high - lxc.round_ratio_ci95_low < lxc.ratio_ci95_high - lxc.ratio_ci95_low);
  // calibration 45..56 ms over both cells' runs, median 50: spread 22%, more than the 1.2% effect
  t.true(Math.abs(lxc.calib_spread - 11 / 50) < 1e-12);
  t.regex(lxc.note, /host speed moved 22\.0% over these runs \(calibration\) - more than the 1\.2% effect: prefer round_ratio and more rounds/);
  const bm = rows.find((r) => r.cell === 'bm')!;
  t.true(Number.isNaN(bm.round_ratio));
  t.is(bm.round_pairs, 0);
  t.notRegex(bm.note, /host speed/);
  // the CSV carries the new columns beside the ratio columns
  const header = summaryCsv(rows).split('\n')[0]!.split(',');
  t.is(header.indexOf('round_ratio'), header.indexOf('ratio_ci95_high') + 1);
  t.deepEqual(header, [...SUMMARY_COLUMNS]);
});

test("calib_spread takes the kernel work's spread where it moved more than the CPU loop", (t) => {
  const withSys = (x: Sample, sysMs: number) => ({ ...x, calibration: { ...x.calibration!, sysMs } });
  const rows = summarize([withSys(sample('bm', 1, 10, 50), 40), withSys(sample('bm', 2, 10, 50), 60), withSys(sample('x', 1, 10, 50, 'bm'), 50), withSys(sample('x', 2, 10, 50, 'bm'), 50)]);
  t.is(rows.find((r) => r.cell === 'x')!.calib_spread, 20 / 50);
});

test('no calibration on the samples: calib_spread empty and no drift note', (t) => {
  const strip = (s: Sample) => {
    const { calibration: _c, ...rest } = s;
    return rest as Sample;
  };
  const rows = summarize([sample('bm', 1, 10, 1), sample('bm', 2, 11, 1), sample('x', 1, 20, 1, 'bm'), sample('x', 2, 22, 1, 'bm')].map(strip));
  const x = rows.find((r) => r.cell === 'x')!;
  t.true(Number.isNaN(x.calib_spread));
  t.is(x.round_ratio, 2);
  t.notRegex(x.note, /host speed/);
});
