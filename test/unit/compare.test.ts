import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareDirs } from '../../analysis/compare-dirs.ts';
import { compareRuns, fisherGreater, shortCellIds, suspectCells, type Comparison } from '../../analysis/compare.ts';
import { asLoaded, cellOf, syntheticRun, writeRun, type SyntheticCell, type SyntheticMetric } from '../../analysis/synthetic.ts';
import { parseTolerance } from '../../analysis/tolerance.ts';
import { tempDir } from '../tmp.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'compare');

const wall = (mean: number, cv: number, dist: SyntheticMetric['dist'] = 'normal'): SyntheticMetric => ({ metric: 'wall_s', unit: 's', better: 'lower', mean, cv, dist });
const ops = (mean: number, cv: number): SyntheticMetric => ({ metric: 'ops_s', unit: 'op/s', better: 'higher', mean, cv });

/**
 * Three cells: the one under test (its wall_s scaled by `factor`, noise `cv`) and two steady ones,
 * so that every comparison also shows that unchanged cells stay 'no change'.
 */
function cells(factor: number, cv: number, extra: Partial<SyntheticCell> = {}): SyntheticCell[] {
  return [
    { platform: 'baremetal', workload: 'kernel-compile', metrics: [wall(90 * factor, cv)], ...extra },
    { platform: 'lxc', workload: 'kernel-compile', metrics: [wall(92, 0.01)] },
    { platform: 'lxc', workload: 'filebench', resource: 'disk', metrics: [ops(5000, 0.015)] },
  ];
}
const TESTED = cellOf({ platform: 'baremetal', workload: 'kernel-compile', metrics: [] }).id;

async function pair(name: string, baseCells: SyntheticCell[], candCells: SyntheticCell[], seed: number, reps = 5): Promise<[string, string]> {
  const root = tempDir(`virtbench-compare-${name}-`);
  const b = writeRun(join(root, 'base'), syntheticRun({ seed, reps, cells: baseCells }));
  const c = writeRun(join(root, 'cand'), syntheticRun({ seed: seed + 1, reps, cells: candCells }));
  return [b, c];
}

function row(c: Comparison, cell: string, metric = 'wall_s') {
  const r = c.rows.find((x) => x.cell === cell && x.metric === metric);
  if (!r) throw new Error(`no row ${cell} ${metric}`);
  return r;
}

function othersUnchanged(t: import('ava').ExecutionContext, c: Comparison): void {
  for (const r of c.rows.filter((x) => x.cell !== TESTED)) t.is(r.verdict, 'no change', `${r.cell} ${r.metric}: ${r.reason}`);
}

// 8 runs a side: Holm over the 3 tests needs p < 0.0033 for the first, and 5 against 5 cannot go
// below 0.0079 (see the test of too few samples)
test('10% worse with low noise: regression, exit 1', async (t) => {
  const [b, c] = await pair('10pct', cells(1, 0.01), cells(1.1, 0.01), 100, 8);
  const res = await compareDirs(b, c, { out: false });
  t.is(res.exitCode, 1, res.report);
  const r = row(res.comparison!, TESTED);
  t.is(r.verdict, 'regression');
  t.true(r.changePct > 7 && r.changePct < 13, `change ${r.changePct}`);
  t.true(r.changeLowPct > 5, 'the whole CI is beyond the threshold');
  t.true(r.p < 0.01);
  t.true(r.suspect);
  othersUnchanged(t, res.comparison!);
  t.deepEqual(suspectCells(res.comparison!), [TESTED]);
  t.regex(res.report, /REGRESSION: 1 of 3 cell metrics regressed/);
});

test('3% worse with low noise: significant but within the 5% threshold, exit 0', async (t) => {
  const [b, c] = await pair('3pct', cells(1, 0.01), cells(1.03, 0.01), 200);
  const res = await compareDirs(b, c, { out: false });
  t.is(res.exitCode, 0, res.report);
  const r = row(res.comparison!, TESTED);
  t.is(r.verdict, 'no change');
  t.true(r.changePct > 1 && r.changePct < 5, `change ${r.changePct}`);
  t.false(r.suspect);
  othersUnchanged(t, res.comparison!);
});

test('10% worse but noise larger than the difference: no failure, exit 0', async (t) => {
  // both runs with a CoV of 20%: the 10% shift is half a standard deviation
  const [b, c] = await pair('noisy', cells(1, 0.2), cells(1.1, 0.2), 300);
  const res = await compareDirs(b, c, { out: false });
  t.is(res.exitCode, 0, res.report);
  const r = row(res.comparison!, TESTED);
  t.is(r.verdict, 'no change');
  t.true(r.p >= 0.01);
});

test('10% worse with noise larger than the difference: rarely fails over many draws', (t) => {
  // the fixed-seed case above is not luck: over 200 draws the rate of failing is low
  let fails = 0;
  for (let k = 0; k < 200; k++) {
    const a = asLoaded(syntheticRun({ seed: 5000 + 2 * k, reps: 5, cells: cells(1, 0.2) }), '/a');
    const b = asLoaded(syntheticRun({ seed: 5001 + 2 * k, reps: 5, cells: cells(1.1, 0.2) }), '/b');
    if (compareRuns(a, b).exitCode !== 0) fails++;
  }
  t.log(`10% slower under 20% noise, n=5: ${fails} of 200 comparisons failed (${(fails / 2).toFixed(1)}%)`);
  t.true(fails / 200 < 0.1);
});

test('a new DNF is a regression whatever the numbers, exit 1', async (t) => {
  const [b, c] = await pair('dnf', cells(1, 0.01), cells(1, 0.01, { dnfReps: [4] }), 400);
  const res = await compareDirs(b, c, { out: false });
  t.is(res.exitCode, 1, res.report);
  const r = row(res.comparison!, TESTED);
  t.is(r.verdict, 'regression');
  t.regex(r.reason, /new DNF: 1 of 5 runs did not finish/);
  t.is(r.cand.dnf, 1);
  t.is(r.cand.n, 4);
  othersUnchanged(t, res.comparison!);
});

test('a cell that does not finish in either run is no change; DNF gone is an improvement', (t) => {
  const allDnf = { dnfReps: [1, 2, 3, 4, 5] };
  const a = asLoaded(syntheticRun({ seed: 1, reps: 5, cells: cells(1, 0.01, allDnf) }), '/a');
  const b = asLoaded(syntheticRun({ seed: 2, reps: 5, cells: cells(1, 0.01, allDnf) }), '/b');
  const same = compareRuns(a, b);
  t.is(row(same, TESTED).verdict, 'no change');
  t.is(same.exitCode, 0);
  const fixed = asLoaded(syntheticRun({ seed: 3, reps: 5, cells: cells(1, 0.01) }), '/c');
  const better = compareRuns(a, fixed);
  t.is(row(better, TESTED).verdict, 'improvement');
  t.is(better.exitCode, 0);
  // and the other way round: all runs DNF where the baseline finished
  const worse = compareRuns(fixed, a);
  t.is(row(worse, TESTED).verdict, 'regression');
});

test('more DNFs than the baseline (both have some) is judged by Fisher exact test', (t) => {
  t.true(Math.abs(fisherGreater(0, 5, 5, 5) - 1 / 252) < 1e-12);
  const a = asLoaded(syntheticRun({ seed: 1, reps: 10, cells: cells(1, 0.01, { dnfReps: [1] }) }), '/a');
  const b = asLoaded(syntheticRun({ seed: 2, reps: 10, cells: cells(1, 0.01, { dnfReps: [1, 2, 3, 4, 5, 6, 7, 8, 9] }) }), '/b');
  const c = compareRuns(a, b);
  t.is(row(c, TESTED).verdict, 'regression');
  t.regex(row(c, TESTED).reason, /more runs did not finish \(DNF 1\/10 -> 9\/10/);
});

test('an improvement beyond the threshold is reported and does not fail', (t) => {
  const a = asLoaded(syntheticRun({ seed: 1, reps: 8, cells: cells(1, 0.01) }), '/a');
  const b = asLoaded(syntheticRun({ seed: 2, reps: 8, cells: cells(0.85, 0.01) }), '/b');
  const c = compareRuns(a, b);
  t.is(row(c, TESTED).verdict, 'improvement');
  t.is(c.exitCode, 0);
  t.is(c.improvements, 1);
});

test('false alarms on 200 pairs of runs from one distribution stay below 5%', (t) => {
  // A realistic matrix: 2 platforms x 3 neighbour cells x 2 metrics (12 judged metrics per run),
  // right-skewed (lognormal) noise with CoVs from 1% to 15%, 5 repetitions per cell.
  const cvs = [0.01, 0.02, 0.05, 0.09, 0.15];
  const matrix: SyntheticCell[] = [];
  for (const [p, platform] of ['baremetal', 'lxc'].entries()) {
    for (const [i, nb] of (['none', 'competing', 'adversarial'] as const).entries()) {
      matrix.push({
        platform,
        workload: 'kernel-compile',
        neighbourKind: nb,
        neighbour: nb === 'none' ? 'none' : nb === 'competing' ? 'kernel-compile' : 'fork-bomb',
        metrics: [
          { ...wall(90 + 40 * i, cvs[(i + 2 * p) % cvs.length]!), dist: 'lognormal' },
          { ...ops(1000 - 100 * i, cvs[(i + 1 + p) % cvs.length]!), dist: 'lognormal' },
        ],
      });
    }
  }
  const started = Date.now();
  let alarms = 0;
  let judged = 0;
  let rowAlarms = 0;
  for (let k = 0; k < 200; k++) {
    const a = asLoaded(syntheticRun({ seed: 10_000 + 2 * k, reps: 5, cells: matrix }), '/a');
    const b = asLoaded(syntheticRun({ seed: 10_001 + 2 * k, reps: 5, cells: matrix }), '/b');
    const c = compareRuns(a, b);
    judged += c.rows.length;
    rowAlarms += c.regressions;
    if (c.exitCode !== 0) alarms++;
  }
  const rate = alarms / 200;
  t.log(`false alarms: ${alarms} of 200 run pairs (${(rate * 100).toFixed(1)}%); ${rowAlarms} of ${judged} cell metrics; ${Date.now() - started} ms`);
  t.true(rate < 0.05);
});

test('cells in only one run are listed; metrics are matched by cell', (t) => {
  const a = asLoaded(syntheticRun({ seed: 1, reps: 5, cells: cells(1, 0.01) }), '/a');
  const extra: SyntheticCell = { platform: 'kvm', workload: 'kernel-compile', metrics: [wall(100, 0.01)] };
  const b = asLoaded(syntheticRun({ seed: 2, reps: 5, cells: [...cells(1, 0.01).slice(1), extra] }), '/b');
  const c = compareRuns(a, b);
  t.deepEqual(c.onlyInBaseline, [TESTED]);
  t.deepEqual(c.onlyInCandidate, [cellOf(extra).id]);
  t.is(c.rows.length, 2);
});

test('refusals: different suites, hosts, guest sizes, acceleration, no common cell', (t) => {
  const base = asLoaded(syntheticRun({ seed: 1, reps: 3, cells: cells(1, 0.01) }), '/a');
  const other = (over: Parameters<typeof syntheticRun>[0]) => asLoaded(syntheticRun(over), '/b');
  t.throws(() => compareRuns(base, other({ seed: 2, reps: 3, cells: cells(1, 0.01), suite: 'overcommit' })), { message: /different suites \('isolation' vs 'overcommit'\)/ });
  t.throws(() => compareRuns(base, other({ seed: 2, reps: 3, cells: cells(1, 0.01), host: 'lab2' })), { message: /host 'lab1' vs 'lab2' \(pass --allow-other-host/ });
  t.notThrows(() => compareRuns(base, other({ seed: 2, reps: 3, cells: cells(1, 0.01), host: 'lab2' }), { allowOtherHost: true }));
  t.throws(() => compareRuns(base, other({ seed: 2, reps: 3, cells: cells(1, 0.01), vcpus: 2 })), { message: /guests had 1 vCPU\(s\) in the baseline but 2 in the candidate/ });
  t.throws(() => compareRuns(base, other({ seed: 2, reps: 3, cells: cells(1, 0.01), profile: 'quick' })), { message: /different profiles/ });
  const tcg = cells(1, 0.01).map((c) => ({ ...c, accel: 'tcg' as const }));
  t.throws(() => compareRuns(base, other({ seed: 2, reps: 3, cells: tcg })), { message: /accel 'native' in the baseline but 'tcg'/ });
  t.throws(() => compareRuns(base, other({ seed: 2, reps: 3, cells: [{ platform: 'kvm', workload: 'x', metrics: [wall(1, 0.1)] }] })), { message: /no cell in common/ });
});

test('tolerance: per-metric threshold and ignore rules change verdicts', (t) => {
  const a = asLoaded(syntheticRun({ seed: 1, reps: 5, cells: cells(1, 0.01) }), '/a');
  const b = asLoaded(syntheticRun({ seed: 2, reps: 5, cells: cells(1.1, 0.01) }), '/b');
  const ctx = { metrics: ['wall_s', 'ops_s'], cells: a.measured.map((s) => s.cell) };
  const loose = compareRuns(a, b, { tolerance: parseTolerance('threshold wall_s 15%\n', 'tol', ctx) });
  t.is(row(loose, TESTED).verdict, 'no change');
  t.is(row(loose, TESTED).threshold, 0.15);
  t.is(loose.exitCode, 0);
  const ignored = compareRuns(a, b, { tolerance: parseTolerance('ignore * baremetal/*\n', 'tol', ctx) });
  t.is(row(ignored, TESTED).verdict, 'ignored');
  t.regex(row(ignored, TESTED).reason, /ignored by tol:1 \(would be: regression/);
  t.is(ignored.exitCode, 0);
  t.deepEqual(suspectCells(ignored), []);
});

test('too few samples to ever be significant: said in a note, and the cell is suspect', (t) => {
  const a = asLoaded(syntheticRun({ seed: 1, reps: 3, cells: cells(1, 0.01) }), '/a');
  const b = asLoaded(syntheticRun({ seed: 2, reps: 3, cells: cells(1.3, 0.01) }), '/b');
  const c = compareRuns(a, b);
  const r = row(c, TESTED);
  t.is(r.verdict, 'no change');
  t.true(r.suspect);
  t.is(r.minP, 0.1);
  t.regex(c.notes.join(' '), /cannot give p below 0\.10, and Holm over 3 tests needs p < 0\.0033 for the first: only a DNF can fail/);
  t.deepEqual(suspectCells(c), [TESTED]);
});

test('shortCellIds drops the id segments every cell shares', (t) => {
  const { short, common } = shortCellIds(['a/w/none:none/cpuset/hard/x1', 'b/w/competing:k/cpuset/hard/x1']);
  t.is(short.get('a/w/none:none/cpuset/hard/x1'), 'a/w/none:none');
  t.is(common, 'cpuset/hard/x1');
});

test('bad input: not a result directory, truncated samples, other suite, unknown metric in the tolerance file', async (t) => {
  const base = join(fixtures, 'base');
  const cases: [string, string, object, RegExp][] = [
    [join(fixtures, 'not-a-result'), base, {}, /not-a-result is not a result directory: no manifest\.json/],
    [base, join(fixtures, 'does-not-exist'), {}, /does-not-exist: no such directory/],
    [base, join(fixtures, 'truncated'), {}, /truncated\/samples\.jsonl:10: incomplete last line: the run was interrupted/],
    [base, join(fixtures, 'other-suite'), {}, /different suites \('isolation' vs 'overcommit'\)/],
    [base, join(fixtures, 'other-host'), {}, /host 'lab1' vs 'lab2'/],
    [base, join(fixtures, 'slower'), { tolerance: join(fixtures, 'tolerance-unknown-metric.txt') }, /tolerance-unknown-metric\.txt:4: unknown metric 'wal_s'; metrics of the runs compared: wall_s/],
    [base, join(fixtures, 'slower'), { tolerance: join(fixtures, 'no-such-tolerance.txt') }, /no-such-tolerance\.txt: no such tolerance file/],
  ];
  for (const [b, c, opts, re] of cases) {
    const res = await compareDirs(b, c, { out: false, ...opts });
    t.is(res.exitCode, 2, res.report);
    t.regex(res.report, re);
    t.is(res.report.trim().split('\n').length, 1, 'one line');
  }
  // an interrupted run is accepted when asked, with a note
  const partial = await compareDirs(base, join(fixtures, 'truncated'), { out: false, allowPartial: true });
  t.is(partial.exitCode, 0, partial.report);
  t.regex(partial.report, /note: candidate: .*incomplete last line/);
});

test('the fixture pair: 20% slower competing cell is flagged per test, not over the family at 5+5 runs; the tolerance file beside the baseline is used', async (t) => {
  const res = await compareDirs(join(fixtures, 'base'), join(fixtures, 'slower'), { out: false, family: 'none' });
  t.is(res.exitCode, 1, res.report);
  // 5 against 5 runs: smallest p 0.0079, Holm over 2 tests needs 0.005: said, and the cell is suspect
  const fam = await compareDirs(join(fixtures, 'base'), join(fixtures, 'slower'), { out: false });
  t.is(fam.exitCode, 0, fam.report);
  t.regex(fam.report, /only a DNF can fail this comparison/);
  t.is(suspectCells(fam.comparison!).length, 1);
  const loose = await compareDirs(join(fixtures, 'base'), join(fixtures, 'slower'), { out: false, family: 'none', tolerance: join(fixtures, 'tolerance-ok.txt') });
  t.is(loose.exitCode, 0, loose.report);
  t.regex(loose.report, /noise threshold 5\.0% \(wall_s 25\.0%\)/);
});

test('compare.csv and compare.md are written into the candidate directory by default', async (t) => {
  const [b, c] = await pair('files', cells(1, 0.01), cells(1.1, 0.01), 700, 8);
  await writeFile(join(b, 'tolerance.txt'), '# beside the baseline\nthreshold 4%\n');
  const res = await compareDirs(b, c);
  t.deepEqual(res.files, [join(c, 'compare.csv'), join(c, 'compare.md')]);
  const csv = await readFile(join(c, 'compare.csv'), 'utf8');
  t.true(csv.startsWith('suite,cell,platform,workload,'));
  t.is(csv.trim().split('\n').length, 4);
  t.regex(csv, /,regression,yes,/);
  const md = await readFile(join(c, 'compare.md'), 'utf8');
  t.regex(md, /^# virtbench compare: isolation/);
  t.regex(md, /\*\*REGRESSION: 1 of 3 cell metrics regressed/);
  t.regex(md, /noise threshold 4\.0%/);
  t.regex(md, /\| wall_s \| s \| lower \| 2 \| /);
});

test('a run compared with itself: no change anywhere, exit 0', async (t) => {
  const root = tempDir('virtbench-self-');
  const dir = writeRun(join(root, 'run'), syntheticRun({ seed: 9, reps: 5, cells: cells(1, 0.05) }));
  const res = await compareDirs(dir, dir, { out: false });
  t.is(res.exitCode, 0);
  for (const r of res.comparison!.rows) {
    t.is(r.verdict, 'no change');
    t.is(r.changePct, 0);
    t.is(r.p, 1);
  }
});

test('--vs-reference: each neighbour cell against its no-neighbour reference, in one directory', async (t) => {
  const root = tempDir('virtbench-vsref-');
  const alone: SyntheticCell = { platform: 'baremetal', workload: 'kernel-compile', metrics: [wall(90, 0.01)] };
  const beside: SyntheticCell = { platform: 'baremetal', workload: 'kernel-compile', neighbourKind: 'competing', neighbour: 'kernel-compile', reference: cellOf(alone).id, metrics: [wall(120, 0.01)] };
  const dir = writeRun(join(root, 'run'), syntheticRun({ seed: 4, reps: 5, cells: [alone, beside] }));
  const res = await compareDirs(dir, dir, { out: false, vsReference: true });
  t.is(res.exitCode, 1, res.report);
  t.is(res.comparison!.rows.length, 1);
  const r = res.comparison!.rows[0]!;
  t.is(r.cell, cellOf(beside).id);
  t.is(r.verdict, 'regression');
  t.true(r.changePct > 25 && r.changePct < 40, `change ${r.changePct}`);
  const none = writeRun(join(root, 'alone'), syntheticRun({ seed: 5, reps: 5, cells: [alone] }));
  const bad = await compareDirs(none, none, { out: false, vsReference: true });
  t.is(bad.exitCode, 2);
  t.regex(bad.report, /no cell with a neighbour/);
});
