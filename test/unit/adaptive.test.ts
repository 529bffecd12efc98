import test from 'ava';
import { cellsNeedingMore, decideRepetitions, extraRound, isOutlier, repCap } from '../../analysis/adaptive.ts';
import { parseSuiteArgs } from '../../core/options.ts';
import { cellOf, syntheticRun, type SyntheticCell } from '../../analysis/synthetic.ts';
import type { Sample } from '../../core/types.ts';

const metric = (cv: number) => ({ metric: 'wall_s', unit: 's', better: 'lower' as const, mean: 100, cv });
const id = (c: SyntheticCell) => cellOf(c).id;

test('the cap shrinks with run length, between minReps + 2 and maxReps', (t) => {
  const o = { minReps: 5 };
  t.is(repCap(10, o), 30); // 1800 / 10 = 180, capped at 30
  t.is(repCap(120, o), 15); // 1800 / 120
  t.is(repCap(3600, o), 7); // an hour per run: 2 more than the initial 5
  t.is(repCap(NaN, o), 30);
  t.is(repCap(100, { minReps: 40 }), 40); // never below the initial repetitions
  t.is(repCap(60, { minReps: 3, budgetS: 600, maxReps: 8 }), 8);
});

test('outliers: beyond 3 sd of the other values, judged as a prediction interval', (t) => {
  const rest = [100, 101, 99, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9];
  t.true(isOutlier(110, rest));
  t.false(isOutlier(101.5, rest));
  // with two other values nothing is an outlier short of a huge distance (t with 1 df)
  t.false(isOutlier(110, [100, 101]));
  t.false(isOutlier(110, [100]));
  // others all equal: any different value stands out
  t.true(isOutlier(100.5, [100, 100, 100]));
  t.false(isOutlier(100, [100, 100, 100]));
});

test('steady cells are settled; noisy ones get more, naming the reason', (t) => {
  const steady: SyntheticCell = { platform: 'baremetal', workload: 'kc', metrics: [metric(0.005)] };
  const noisy: SyntheticCell = { platform: 'lxc', workload: 'kc', metrics: [metric(0.08)] };
  const run = syntheticRun({ seed: 3, reps: 5, cells: [steady, noisy], runSeconds: 30 });
  const d = decideRepetitions(run.samples, { minReps: 5 });
  const s = d.find((x) => x.cell === id(steady))!;
  const n = d.find((x) => x.cell === id(noisy))!;
  t.false(s.more);
  t.deepEqual(s.reasons, []);
  t.true(n.more);
  t.deepEqual(n.reasons, ['cv']);
  t.is(n.runSeconds, 30);
  t.is(n.cap, 30);
  t.regex(n.detail, /5 runs, more: wall_s cv \d+\.\d% > 2\.5%/);
  t.deepEqual(cellsNeedingMore(d), [id(noisy)]);
});

test('an outlier in a steady cell asks for more repetitions', (t) => {
  const c: SyntheticCell = { platform: 'baremetal', workload: 'kc', metrics: [metric(0.002)] };
  const run = syntheticRun({ seed: 4, reps: 10, cells: [c] });
  const samples: Sample[] = run.samples.map((s) => (s.rep === 7 ? { ...s, value: 104 } : s));
  const [d] = decideRepetitions(samples, { minReps: 5, cvThreshold: 0.5 });
  t.true(d!.more);
  t.deepEqual(d!.reasons, ['outlier']);
  t.deepEqual(d!.metrics[0]!.outlierReps, [7]);
});

test('at the cap a cell stops and says which reason still stood', (t) => {
  const c: SyntheticCell = { platform: 'lxc', workload: 'kc', metrics: [metric(0.1)] };
  const run = syntheticRun({ seed: 5, reps: 7, cells: [c], runSeconds: 3600 });
  const [d] = decideRepetitions(run.samples, { minReps: 5 });
  t.is(d!.cap, 7);
  t.false(d!.more);
  t.deepEqual(d!.reasons, ['cv', 'cap reached']);
  t.regex(d!.detail, /cap of 7 runs reached \(3600 s per run\) with wall_s cv/);
});

test('below the initial repetitions: more, with no reason yet; all-DNF cells get no more', (t) => {
  const early: SyntheticCell = { platform: 'lxc', workload: 'kc', metrics: [metric(0.001)], reps: 2 };
  const dnf: SyntheticCell = { platform: 'lxc', workload: 'kc', neighbourKind: 'adversarial', neighbour: 'fork-bomb', metrics: [metric(0.1)], dnfReps: [1, 2, 3, 4, 5] };
  const run = syntheticRun({ seed: 6, reps: 5, cells: [early, dnf] });
  const d = decideRepetitions(run.samples, { minReps: 5 }, ['never-run']);
  t.deepEqual(d.map((x) => x.cell), ['never-run', id(early), id(dnf)]);
  t.true(d[0]!.more);
  t.is(d[0]!.reps, 0);
  t.true(d[1]!.more);
  t.deepEqual(d[1]!.reasons, []);
  t.regex(d[1]!.detail, /2 of 5 initial repetitions/);
  t.false(d[2]!.more);
  t.regex(d[2]!.detail, /no values to judge/);
});

test('ignored metrics and per-cell run lengths', (t) => {
  const c: SyntheticCell = { platform: 'lxc', workload: 'kc', metrics: [metric(0.1), { ...metric(0.001), metric: 'steady' }] };
  const run = syntheticRun({ seed: 7, reps: 5, cells: [c] });
  const [d] = decideRepetitions(run.samples, { minReps: 5, ignoreMetrics: ['wall_s'], runSeconds: { [id(c)]: 600 } });
  t.false(d!.more);
  t.is(d!.cap, 7);
  t.deepEqual(d!.metrics.map((m) => m.metric), ['steady']);
  const [e] = decideRepetitions(run.samples, { minReps: 5, runSeconds: () => 100 });
  t.is(e!.cap, 18);
  t.true(e!.more);
});

test('false "outlier" flags of pure noise are rare', (t) => {
  let flagged = 0;
  for (let k = 0; k < 300; k++) {
    const run = syntheticRun({ seed: 100 + k, reps: 5, cells: [{ platform: 'p', workload: 'w', metrics: [metric(0.01)] }] });
    const [d] = decideRepetitions(run.samples, { minReps: 5, cvThreshold: 1 });
    if (d!.reasons.includes('outlier')) flagged++;
  }
  t.log(`normal noise, 5 values: ${flagged} of 300 cells flagged an outlier`);
  t.true(flagged / 300 < 0.03);
});

test('extraRound: the given cells once each, interleaved, numbered after the reps recorded', (t) => {
  const a: SyntheticCell = { platform: 'baremetal', workload: 'kernel-compile', metrics: [metric(0.01)] };
  const b: SyntheticCell = { platform: 'lxc', workload: 'kernel-compile', metrics: [metric(0.01)] };
  const run = syntheticRun({ seed: 3, reps: 4, cells: [a, b] });
  const round = extraRound([cellOf(a), cellOf(b)], run.samples, 7);
  t.deepEqual(round.map((r) => r.cell.id).sort(), [id(a), id(b)].sort());
  t.true(round.every((r) => r.rep === 5 && !r.warmup));
  // a cell without samples yet starts at rep 1
  t.is(extraRound([cellOf(a)], [], 1)[0]!.rep, 1);
});

test('--reps auto and --compare-to parse; a bad --reps still says so', (t) => {
  const known = { platforms: ['baremetal'], workloads: ['kernel-compile'], neighbours: ['kernel-compile'] };
  const def = { name: 'x', description: '', reference: 'no-neighbour' as const, platforms: ['baremetal'], rows: [{ resource: 'cpu' as const, workload: 'kernel-compile', neighbours: { competing: 'kernel-compile' } }] };
  const o = parseSuiteArgs(['--profile', 'smoke', '--reps', 'auto', '--compare-to', 'baseline'], def, known);
  if (o === 'help') return t.fail();
  t.is(o.reps, 3);
  t.true(o.repsAuto);
  t.is(o.compareTo, 'baseline');
  const plain = parseSuiteArgs(['--reps', '4'], def, known);
  t.true(plain !== 'help' && plain.reps === 4 && !plain.repsAuto && plain.compareTo === undefined);
  t.throws(() => parseSuiteArgs(['--reps', 'many'], def, known), { message: /--reps must be a whole number/ });
});
