// The verdict of a comparison: for each (cell, metric) of a candidate run, the change against the
// reference (the baseline night, or the last K accepted nights), a p-value and a verdict; then the
// verdict of the night, with the false-alarm rate controlled over the whole family of cells and
// metrics (Holm). Pure: loading directories and writing files is in compare-dirs.ts.
//
// Two ways to get a p-value:
// - against K >= 3 reference nights (an accepted baseline and its history): tonight's mean is
//   judged against the spread of the reference nights' means (between-night.ts), so the host's
//   drift from night to night is part of the noise;
// - against one run: a permutation test of tonight's runs against the baseline's (permutation.ts),
//   which assumes the two runs' values are exchangeable, i.e. no drift between them.
// A regression needs all of: Holm-adjusted p < alpha, |relative change| > the metric's noise
// threshold, and the change in the metric's bad direction. A run that did not finish (DNF) where
// the reference finished is a regression whatever the numbers. A change up to the threshold never
// fails.
import { geometricMean } from 'simple-statistics';
import { UsageError } from '../core/errors.ts';
import type { Better, Sample } from '../core/types.ts';
import { betweenNightTest, MIN_NIGHTS } from './between-night.ts';
import { checkComparable, distinct, fmtSet, runInfo, type RunInfo } from './comparable.ts';
import { holm } from './family.ts';
import { permutationTest } from './permutation.ts';
import type { LoadedRun } from './resultdir.ts';
import { describe, ratioCI } from './stats.ts';
import { defaultTolerance, ignoredBy, thresholdOf, type Tolerance } from './tolerance.ts';

export type Verdict = 'regression' | 'improvement' | 'no change' | 'ignored' | 'not compared';

export interface CompareOptions {
  /** alpha, thresholds and ignore rules (default: alpha 0.01, threshold 5%, nothing ignored). */
  tolerance?: Tolerance;
  /** Seed of the permutation test's resampler when it is not exact (default 1). */
  seed?: number;
  /** Compare runs of different hosts (hostname or hardware): a note instead of a refusal. */
  allowOtherHost?: boolean;
  /**
   * Earlier accepted nights of the same suite and host, newest first (the baseline itself is the
   * newest reference night). With the baseline they give the between-night spread.
   */
  history?: LoadedRun[];
  /** Reference nights to use at most, the baseline included (default DEFAULT_NIGHTS). */
  nights?: number;
  /** 'holm' (default): alpha bounds the chance of any false regression in the night; 'none': per test. */
  family?: 'holm' | 'none';
}

/** A week of nights: enough degrees of freedom for the spread, short enough to follow a host. */
export const DEFAULT_NIGHTS = 7;

/** One side (baseline or candidate) of one (cell, metric). Statistics are over its 'ok' values. */
export interface Side {
  /** Measured runs recorded (ok + dnf + error). */
  runs: number;
  n: number;
  mean: number;
  sd: number;
  cv: number;
  ci95Low: number;
  ci95High: number;
  dnf: number;
  errors: number;
  accel: string;
}

export interface MetricComparison {
  cell: string;
  platform: string;
  workload: string;
  neighbourKind: string;
  neighbour: string;
  cpuPolicy: string;
  memoryLimit: string;
  overcommit: number;
  metric: string;
  unit: string;
  better: Better;
  base: Side;
  cand: Side;
  /** mean(candidate) / mean(baseline) and its 95% Fieller interval (NaN when not defined). */
  ratio: number;
  ratioLow: number;
  ratioHigh: number;
  /** (ratio - 1) * 100, and the same for the interval bounds. */
  changePct: number;
  changeLowPct: number;
  changeHighPct: number;
  /** Two-sided p-value of the row's test (NaN when not tested). */
  p: number;
  /** p adjusted over the night's family of tests (Holm), or p itself with family 'none'. */
  pAdj: number;
  /** How p was obtained: against the reference nights' spread, or a permutation test against one run. */
  test: 'between-night' | 'permutation' | '';
  /** Reference nights behind the between-night test (0 for a permutation test). */
  nights: number;
  /** The smallest p these sample sizes allow (see PermutationResult.minP). */
  minP: number;
  exact: boolean;
  /** Noise threshold applied (relative, 0.05 = 5%). */
  threshold: number;
  alpha: number;
  verdict: Verdict;
  /** One sentence: why this verdict. */
  reason: string;
  /**
   * Worth more samples before a verdict: a regression, or a change beyond the threshold in the bad
   * direction that is not (yet) significant. See suspectCells.
   */
  suspect: boolean;
  notes: string[];
}

export interface MetricSummary {
  metric: string;
  unit: string;
  better: Better;
  /** Cells whose ratio enters the geometric mean (both sides with ok values, not ignored). */
  cells: number;
  /** Geometric mean over cells of mean(candidate)/mean(baseline); NaN when no cell qualifies. */
  geomeanRatio: number;
  regressions: number;
  improvements: number;
  noChange: number;
  suspect: number;
  ignored: number;
  notCompared: number;
}

export interface Comparison {
  suite: string;
  baseline: RunInfo;
  candidate: RunInfo;
  alpha: number;
  threshold: number;
  thresholds: Record<string, number>;
  ignore: string[];
  toleranceFile?: string;
  seed: number;
  /** Family-wise control applied to the p-values of the night. */
  family: 'holm' | 'none';
  /** The reference nights: the baseline and the accepted nights before it that were used. */
  referenceDirs: string[];
  rows: MetricComparison[];
  metrics: MetricSummary[];
  onlyInBaseline: string[];
  onlyInCandidate: string[];
  /** Differences between the runs that do not prevent the comparison, and loading notes. */
  notes: string[];
  regressions: number;
  improvements: number;
  /** 0: nothing regressed; 1: at least one regression. */
  exitCode: 0 | 1;
}


interface Group {
  cell: string;
  metric: string;
  first: Sample;
  samples: Sample[];
}

function groups(samples: readonly Sample[]): Map<string, Group> {
  const out = new Map<string, Group>();
  for (const s of samples) {
    if (s.warmup) continue;
    const key = `${s.cell}\u0000${s.metric}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { cell: s.cell, metric: s.metric, first: s, samples: [] }));
    g.samples.push(s);
  }
  return out;
}

function side(g: Group | undefined): Side {
  const samples = g?.samples ?? [];
  const ok = samples.filter((s) => s.status === 'ok').map((s) => s.value as number);
  const d = describe(ok);
  return {
    runs: samples.length,
    n: d.n,
    mean: d.mean,
    sd: d.sd,
    cv: d.cv,
    ci95Low: d.ci95Low,
    ci95High: d.ci95High,
    dnf: samples.filter((s) => s.status === 'dnf').length,
    errors: samples.filter((s) => s.status === 'error').length,
    accel: fmtSet(distinct(samples.map((s) => s.accel)).sort()),
  };
}

/** One-sided Fisher exact test: P(candidate has at least `c1` DNFs) given the margins. */
export function fisherGreater(b1: number, bN: number, c1: number, cN: number): number {
  const total1 = b1 + c1;
  const N = bN + cN;
  const lnC = (n: number, k: number) => {
    let s = 0;
    for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
    return s;
  };
  const denom = lnC(N, total1);
  let p = 0;
  for (let x = c1; x <= Math.min(total1, cN); x++) p += Math.exp(lnC(cN, x) + lnC(bN, total1 - x) - denom);
  return Math.min(1, p);
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;

/** A change must exceed the threshold by more than rounding: 100 s -> 105 s is exactly 5%, not more. */
const ROUNDING = 1e-9;

/** What the numbers of a row need before the family-wise step: set by measure(), used by decide(). */
interface Pending {
  row: MetricComparison;
  ignored: ReturnType<typeof ignoredBy>;
  /** Set when the DNF counts alone settle the verdict, or nothing can be compared. */
  settled: boolean;
  /** The reference had DNFs and tonight has none (said in the reason; the numbers still count). */
  dnfGone: boolean;
}

function setVerdict(pd: Pending, verdict: Verdict, reason: string, suspect = false): void {
  const { row, ignored } = pd;
  row.verdict = ignored ? 'ignored' : verdict;
  row.reason = ignored ? `ignored by ${ignored.source} (would be: ${verdict}, ${reason})` : reason;
  row.suspect = ignored ? false : suspect;
}

/**
 * First step of a row: the change and its p-value (against the reference nights when `nights`
 * holds at least MIN_NIGHTS night means, else the permutation test against the baseline's runs),
 * and the verdicts that need no p-value (DNF counts, nothing to compare).
 */
function measure(row: MetricComparison, okBase: number[], okCand: number[], nights: number[] | undefined, tol: Tolerance, seed: number): Pending {
  const { base, cand } = row;
  const pd: Pending = { row, ignored: ignoredBy(tol, row.cell, row.metric), settled: true, dnfGone: false };
  if (base.accel !== cand.accel) {
    setVerdict(pd, 'not compared', `acceleration differs (${base.accel} vs ${cand.accel})`);
    return pd;
  }
  if (okBase.length > 0 && okCand.length > 0) {
    if (nights !== undefined && nights.length >= MIN_NIGHTS) {
      const b = betweenNightTest(nights, okCand);
      row.test = 'between-night';
      row.base.mean = b.reference;
      row.ratio = cand.mean / b.reference;
      row.changePct = (row.ratio - 1) * 100;
      row.changeLowPct = b.changeLow * 100;
      row.changeHighPct = b.changeHigh * 100;
      row.ratioLow = 1 + b.changeLow;
      row.ratioHigh = 1 + b.changeHigh;
      row.p = b.p;
      row.minP = 0;
      row.exact = false;
      row.nights = nights.length;
    } else {
      const r = ratioCI(okCand, okBase);
      row.ratio = r.ratio;
      row.ratioLow = r.low;
      row.ratioHigh = r.high;
      row.changePct = (r.ratio - 1) * 100;
      row.changeLowPct = (r.low - 1) * 100;
      row.changeHighPct = (r.high - 1) * 100;
      const t = permutationTest(okBase, okCand, { seed });
      row.test = 'permutation';
      row.p = t.p;
      row.minP = t.minP;
      row.exact = t.exact;
      if (nights !== undefined) row.notes.push(`only ${nights.length} reference night(s) have this cell: judged against the baseline's runs alone (drift between nights not accounted for)`);
    }
  }
  const dnfNote = `DNF ${base.dnf}/${base.runs} -> ${cand.dnf}/${cand.runs}`;
  // DNF first: a run that no longer finishes is a regression whatever the numbers of the others
  if (cand.dnf > 0 && base.dnf === 0 && base.runs > 0 && base.errors < base.runs) {
    setVerdict(pd, 'regression', `new DNF: ${cand.dnf} of ${cand.runs} runs did not finish (the reference finished all ${base.runs})`, true);
    return pd;
  }
  if (cand.dnf > 0 && base.dnf > 0) {
    row.notes.push(`DNF in both (${dnfNote})`);
    const pf = fisherGreater(base.dnf, base.runs, cand.dnf, cand.runs);
    if (pf < row.alpha) {
      setVerdict(pd, 'regression', `more runs did not finish (${dnfNote}, Fisher exact p ${pf.toPrecision(2)})`, true);
      return pd;
    }
  }
  if (base.dnf > 0 && cand.dnf === 0 && cand.n > 0) {
    // fewer DNFs is good news, but the runs that finish are still judged: a DNF in the reference
    // must not hide a slowdown of everything else
    if (base.n === 0) {
      setVerdict(pd, 'improvement', `DNF gone (${dnfNote})`);
      return pd;
    }
    pd.dnfGone = true;
    row.notes.push(`DNF gone (${dnfNote})`);
  }
  if (base.n === 0 || cand.n === 0) {
    if (base.n === 0 && cand.n === 0 && base.dnf > 0 && cand.dnf > 0) setVerdict(pd, 'no change', `did not finish in either (${dnfNote})`);
    else if (cand.n === 0) setVerdict(pd, 'not compared', cand.errors > 0 ? `no ok sample in the candidate (${cand.errors} error(s))` : 'no ok sample in the candidate');
    else setVerdict(pd, 'not compared', base.errors > 0 ? `no ok sample in the reference (${base.errors} error(s))` : 'no ok sample in the reference');
    return pd;
  }
  if (!Number.isFinite(row.ratio)) {
    setVerdict(pd, 'not compared', 'reference mean is 0: no relative change');
    return pd;
  }
  if (cand.errors > base.errors) row.notes.push(`candidate has ${cand.errors} failed run(s) (reference ${base.errors})`);
  pd.settled = false;
  return pd;
}

/** Second step, once the family's adjusted p-values are known: the verdict from the numbers. */
function decide(pd: Pending): void {
  const { row } = pd;
  const rel = row.ratio - 1;
  const beyond = Math.abs(rel) - row.threshold > ROUNDING;
  const significant = row.pAdj < row.alpha;
  const better = row.better;
  const bad = better === 'lower' ? rel > 0 : rel < 0;
  const word = rel > 0 ? 'higher' : 'lower';
  const adj = row.pAdj !== row.p ? `, Holm-adjusted ${row.pAdj.toPrecision(2)}` : '';
  const stats = `${pct(row.changePct)}, p ${row.p.toPrecision(2)}${adj}, threshold ${(row.threshold * 100).toFixed(1)}%`;
  const gone = pd.dnfGone ? 'DNF gone, but the runs that finished are ' : '';
  if (significant && beyond) {
    if (bad) setVerdict(pd, 'regression', `${gone}${word} (${better} is better): ${stats}`, true);
    else setVerdict(pd, 'improvement', `${word} (${better} is better): ${stats}${pd.dnfGone ? '; DNF gone' : ''}`);
  } else if (pd.dnfGone && !(beyond && bad)) {
    setVerdict(pd, 'improvement', `DNF gone; the runs that finished: ${stats}`);
  } else if (beyond && bad) {
    setVerdict(pd, 'no change', `${gone}${word} beyond the threshold but not significant (${stats}): suspect, more samples would tell`, true);
  } else if (significant) {
    setVerdict(pd, 'no change', `significant but within the noise threshold (${stats})`);
  } else {
    setVerdict(pd, 'no change', `within noise (${stats})`);
  }
}

function blankRow(g: Group, base: Side, cand: Side, tol: Tolerance): MetricComparison {
  const s = g.first;
  return {
    cell: g.cell,
    platform: s.platform,
    workload: s.workload,
    neighbourKind: s.neighbourKind,
    neighbour: s.neighbour,
    cpuPolicy: s.cpuPolicy,
    memoryLimit: s.memoryLimit,
    overcommit: s.overcommit,
    metric: g.metric,
    unit: s.unit,
    better: s.better,
    base,
    cand,
    ratio: NaN,
    ratioLow: NaN,
    ratioHigh: NaN,
    changePct: NaN,
    changeLowPct: NaN,
    changeHighPct: NaN,
    p: NaN,
    pAdj: NaN,
    test: '',
    nights: 0,
    minP: NaN,
    exact: false,
    threshold: thresholdOf(tol, g.metric),
    alpha: tol.alpha,
    verdict: 'no change',
    reason: '',
    suspect: false,
    notes: [],
  };
}

/** Mean of the ok values of each night that has some for this cell and metric (and the same accel). */
function nightMeans(nights: readonly Map<string, Group>[], key: string, accel: string): number[] {
  const out: number[] = [];
  for (const g of nights) {
    const x = g.get(key);
    if (!x) continue;
    const sd = side(x);
    if (sd.n > 0 && sd.accel === accel) out.push(sd.mean);
  }
  return out;
}

/**
 * Compare a candidate run with a baseline run, and with the accepted nights before the baseline
 * when opts.history holds them. Throws UsageError when the baseline and candidate cannot be
 * compared (see checkComparable); a history night that cannot be is left out with a note.
 */
export function compareRuns(base: LoadedRun, cand: LoadedRun, opts: CompareOptions = {}): Comparison {
  const tol = opts.tolerance ?? defaultTolerance();
  const seed = opts.seed ?? 1;
  const family = opts.family ?? 'holm';
  const notes = [...base.notes.map((n) => `baseline: ${n}`), ...cand.notes.map((n) => `candidate: ${n}`), ...checkComparable(base, cand, opts)];
  const maxNights = Math.max(1, opts.nights ?? DEFAULT_NIGHTS);
  const refs: LoadedRun[] = [base];
  for (const h of opts.history ?? []) {
    if (refs.length >= maxNights) break;
    try {
      checkComparable(h, cand, opts);
      refs.push(h);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      notes.push(`reference night ${h.dir} left out: ${err.message.replace(/^cannot compare .*?: /, '')}`);
    }
  }
  const byNight = refs.length >= MIN_NIGHTS;
  // the reference side pools the reference nights' runs (DNF counts, n); its mean is the nights' mean
  const bg = groups((byNight ? refs : [base]).flatMap((r) => r.measured));
  const nightGroups = byNight ? refs.map((r) => groups(r.measured)) : [];
  const cg = groups(cand.measured);
  const baseCells = distinct([...bg.values()].map((g) => g.cell));
  const candCells = distinct([...cg.values()].map((g) => g.cell));
  const onlyInBaseline = baseCells.filter((c) => !candCells.includes(c));
  const onlyInCandidate = candCells.filter((c) => !baseCells.includes(c));
  const common = baseCells.filter((c) => candCells.includes(c));
  if (common.length === 0) {
    throw new UsageError(`cannot compare ${base.dir} with ${cand.dir}: no cell in common (baseline: ${baseCells.slice(0, 3).join(', ')}${baseCells.length > 3 ? ', ...' : ''}; candidate: ${candCells.slice(0, 3).join(', ')}${candCells.length > 3 ? ', ...' : ''})`);
  }

  const pending: Pending[] = [];
  for (const g of bg.values()) {
    if (!common.includes(g.cell)) continue;
    const key = `${g.cell}\u0000${g.metric}`;
    const other = cg.get(key);
    if (!other) {
      notes.push(`metric ${g.metric} of cell ${g.cell} is only in the baseline`);
      continue;
    }
    if (other.first.better !== g.first.better) {
      throw new UsageError(`cannot compare ${base.dir} with ${cand.dir}: metric ${g.metric} is '${g.first.better} is better' in the baseline but '${other.first.better} is better' in the candidate`);
    }
    if (other.first.unit !== g.first.unit) {
      throw new UsageError(`cannot compare ${base.dir} with ${cand.dir}: metric ${g.metric} is in '${g.first.unit}' in the baseline but '${other.first.unit}' in the candidate`);
    }
    const row = blankRow(g, side(g), side(other), tol);
    const okOf = (x: Group) => x.samples.filter((s) => s.status === 'ok').map((s) => s.value as number);
    const nights = byNight ? nightMeans(nightGroups, key, row.cand.accel) : undefined;
    pending.push(measure(row, okOf(g), okOf(other), nights, tol, seed));
  }
  for (const g of cg.values()) {
    if (common.includes(g.cell) && !bg.has(`${g.cell}\u0000${g.metric}`)) notes.push(`metric ${g.metric} of cell ${g.cell} is only in the candidate`);
  }

  // the family: every row whose verdict rests on a p-value and is judged (ignored rows are not)
  const judged = pending.filter((pd) => !pd.settled && !pd.ignored);
  const adjusted = family === 'holm' ? holm(judged.map((pd) => pd.row.p)) : judged.map((pd) => pd.row.p);
  judged.forEach((pd, i) => (pd.row.pAdj = adjusted[i]!));
  for (const pd of pending) {
    if (pd.settled) continue;
    if (pd.ignored) pd.row.pAdj = pd.row.p;
    decide(pd);
  }
  const m = judged.length;
  const smallest = Math.min(...judged.filter((pd) => pd.row.test === 'permutation').map((pd) => pd.row.minP));
  const needed = family === 'holm' ? tol.alpha / Math.max(1, m) : tol.alpha;
  if (Number.isFinite(smallest) && smallest >= needed) {
    notes.push(`with these repetitions the permutation test cannot give p below ${smallest.toPrecision(2)}, and ${family === 'holm' ? `Holm over ${m} tests needs p < ${needed.toPrecision(2)} for the first` : `alpha is ${tol.alpha}`}: only a DNF can fail this comparison (add repetitions, or judge against ${MIN_NIGHTS} or more accepted nights)`);
  }
  if (!byNight) notes.push(`judged against one run: differences between nights (drift of the host) are not accounted for; accept ${MIN_NIGHTS} or more nights as baselines for that`);

  const rows = pending.map((pd) => pd.row);
  const metrics = summarizeMetrics(rows);
  const regressions = rows.filter((r) => r.verdict === 'regression').length;
  return {
    suite: base.manifest.suite,
    baseline: runInfo(base),
    candidate: runInfo(cand),
    alpha: tol.alpha,
    threshold: tol.threshold,
    thresholds: tol.thresholds,
    ignore: tol.ignore.map((r) => (r.cells ? `${r.metric} in ${r.cells}` : r.metric)),
    toleranceFile: tol.file,
    seed,
    family,
    referenceDirs: (byNight ? refs : [base]).map((r) => r.dir),
    rows,
    metrics,
    onlyInBaseline,
    onlyInCandidate,
    notes,
    regressions,
    improvements: rows.filter((r) => r.verdict === 'improvement').length,
    exitCode: regressions > 0 ? 1 : 0,
  };
}

function summarizeMetrics(rows: readonly MetricComparison[]): MetricSummary[] {
  const out: MetricSummary[] = [];
  for (const metric of distinct(rows.map((r) => r.metric))) {
    const mine = rows.filter((r) => r.metric === metric);
    const ratios = mine.filter((r) => r.verdict !== 'ignored' && r.verdict !== 'not compared' && r.ratio > 0 && Number.isFinite(r.ratio)).map((r) => r.ratio);
    const count = (v: Verdict) => mine.filter((r) => r.verdict === v).length;
    out.push({
      metric,
      unit: mine[0]!.unit,
      better: mine[0]!.better,
      cells: ratios.length,
      geomeanRatio: ratios.length > 0 ? geometricMean(ratios) : NaN,
      regressions: count('regression'),
      improvements: count('improvement'),
      noChange: count('no change'),
      suspect: mine.filter((r) => r.suspect).length,
      ignored: count('ignored'),
      notCompared: count('not compared'),
    });
  }
  return out;
}

/**
 * Cells worth re-running before the verdict is final: any metric that regressed (including a new
 * DNF) or that moved beyond its threshold in the bad direction without being significant yet.
 * Ignored metrics never make a cell suspect. In the order of the comparison, without duplicates.
 */
export function suspectCells(c: Comparison): string[] {
  return distinct(c.rows.filter((r) => r.suspect).map((r) => r.cell));
}
