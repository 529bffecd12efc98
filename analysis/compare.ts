// Comparing a candidate run with a baseline run: refuse when the two cannot be compared, match cells
// and metrics, and for each (cell, metric) give the change in percent with its 95% CI, a
// permutation-test p-value and a verdict. Pure: loading directories and writing files is in
// compare-dirs.ts.
//
// A regression needs all of: p < alpha, |relative change| > the metric's noise threshold, and the
// change in the metric's bad direction. A run that did not finish (DNF) where the baseline finished
// is a regression whatever the numbers. Noise below the threshold never fails.
import { geometricMean } from 'simple-statistics';
import { UsageError } from '../core/errors.ts';
import type { Manifest } from '../core/results.ts';
import type { Better, Sample } from '../core/types.ts';
import { permutationTest } from './permutation.ts';
import type { LoadedRun } from './resultdir.ts';
import { runHost } from './resultdir.ts';
import { describe, ratioCI } from './stats.ts';
import { formatNumber } from './summary.ts';
import { defaultTolerance, ignoredBy, thresholdOf, type Tolerance } from './tolerance.ts';

export type Verdict = 'regression' | 'improvement' | 'no change' | 'ignored' | 'not compared';

export interface CompareOptions {
  /** alpha, thresholds and ignore rules (default: alpha 0.01, threshold 5%, nothing ignored). */
  tolerance?: Tolerance;
  /** Seed of the permutation test's resampler when it is not exact (default 1). */
  seed?: number;
  /** Compare runs of different hosts (hostname or hardware): a note instead of a refusal. */
  allowOtherHost?: boolean;
}

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
  /** Two-sided permutation p-value (NaN when not tested). */
  p: number;
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

export interface RunInfo {
  dir: string;
  host: string;
  created: string;
  commit: string;
  dirty: boolean;
  profile: string;
  kernel: string;
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

function info(run: LoadedRun): RunInfo {
  const m = run.manifest as Partial<Manifest>;
  return {
    dir: run.dir,
    host: runHost(run.manifest),
    created: typeof m.created === 'string' ? m.created : '',
    commit: m.harness?.commit ?? 'unknown',
    dirty: m.harness?.dirty ?? false,
    profile: m.profile?.name ?? m.options?.profile ?? 'unknown',
    kernel: m.host?.os?.kernel ?? 'unknown',
  };
}

function distinct<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

function fmtSet(xs: readonly unknown[]): string {
  return xs.map((x) => String(x)).join('+') || 'none';
}

/** How the hosts of two runs differ (name, CPU, cores, memory): [] when they are the same machine. */
export function hostDifferences(base: Manifest, cand: Manifest): string[] {
  const out: string[] = [];
  const bh = (base as Partial<Manifest>).host;
  const ch = (cand as Partial<Manifest>).host;
  if (runHost(base) !== runHost(cand)) out.push(`host '${runHost(base)}' vs '${runHost(cand)}'`);
  if (bh && ch) {
    if (bh.cpu?.brand !== ch.cpu?.brand) out.push(`CPU '${bh.cpu?.brand}' vs '${ch.cpu?.brand}'`);
    if (bh.cpu?.cores !== ch.cpu?.cores) out.push(`${bh.cpu?.cores} vs ${ch.cpu?.cores} CPU cores`);
    if (typeof bh.memoryBytes === 'number' && typeof ch.memoryBytes === 'number' && Math.abs(bh.memoryBytes - ch.memoryBytes) > 0.02 * bh.memoryBytes) {
      out.push(`${(bh.memoryBytes / 2 ** 30).toFixed(1)} vs ${(ch.memoryBytes / 2 ** 30).toFixed(1)} GiB of memory`);
    }
  }
  return out;
}

/**
 * Refuse (UsageError) when two runs cannot be compared; return notes for differences that are
 * worth saying but do not make the comparison meaningless (kernel, tools, harness commit, timeout).
 */
export function checkComparable(base: LoadedRun, cand: LoadedRun, opts: { allowOtherHost?: boolean } = {}): string[] {
  const b = base.manifest as Partial<Manifest>;
  const c = cand.manifest as Partial<Manifest>;
  const bd = base.dir;
  const cd = cand.dir;
  const refuse = (why: string) => {
    throw new UsageError(`cannot compare ${bd} with ${cd}: ${why}`);
  };
  if (b.suite !== c.suite) refuse(`different suites ('${b.suite}' vs '${c.suite}')`);
  const bp = b.profile?.name ?? b.options?.profile;
  const cp = c.profile?.name ?? c.options?.profile;
  if (bp && cp && bp !== cp) refuse(`different profiles ('${bp}' vs '${cp}'): workloads do different amounts of work`);

  const notes: string[] = [];
  const bh = b.host;
  const ch = c.host;
  const hostDiffs = hostDifferences(base.manifest, cand.manifest);
  if (hostDiffs.length > 0) {
    if (!opts.allowOtherHost) refuse(`${hostDiffs.join(', ')} (pass --allow-other-host to compare anyway)`);
    notes.push(`runs come from different hosts or hardware: ${hostDiffs.join(', ')}`);
  }

  // what each guest was given, as actually run (after fitting to the host)
  const size = (run: LoadedRun) => ({
    vcpus: distinct(run.measured.map((s) => s.vcpus)).sort(),
    mem: distinct(run.measured.map((s) => s.memoryBytes)).sort(),
  });
  const bs = size(base);
  const cs = size(cand);
  if (fmtSet(bs.vcpus) !== fmtSet(cs.vcpus)) refuse(`guests had ${fmtSet(bs.vcpus)} vCPU(s) in the baseline but ${fmtSet(cs.vcpus)} in the candidate`);
  if (fmtSet(bs.mem) !== fmtSet(cs.mem)) {
    const gib = (xs: unknown[]) => xs.map((x) => `${(Number(x) / 2 ** 30).toFixed(2)} GiB`).join('+');
    refuse(`guests had ${gib(bs.mem)} of memory in the baseline but ${gib(cs.mem)} in the candidate`);
  }
  // acceleration per platform: a VM under TCG is not the same machine as under KVM
  for (const [platform, acc] of Object.entries(b.accel ?? {})) {
    const other = c.accel?.[platform];
    if (other !== undefined && other !== acc) refuse(`platform ${platform} ran with accel '${acc}' in the baseline but '${other}' in the candidate`);
  }

  const bo = b.options;
  const co = c.options;
  if (bo && co) {
    if (bo.timeoutS !== co.timeoutS) notes.push(`run timeout differs (${bo.timeoutS} s vs ${co.timeoutS} s): DNF counts are not on the same footing`);
    if (bo.pidsMax !== co.pidsMax) notes.push(`pids limit differs (${bo.pidsMax} vs ${co.pidsMax}): adversarial neighbours were bounded differently`);
    if (bo.reps !== co.reps) notes.push(`repetitions differ (${bo.reps} vs ${co.reps})`);
  }
  if (bh?.os?.kernel && ch?.os?.kernel && bh.os.kernel !== ch.os.kernel) notes.push(`kernel differs: ${bh.os.kernel} vs ${ch.os.kernel}`);
  if (bh && ch && bh.cgroupVersion !== ch.cgroupVersion) notes.push(`cgroup version differs: v${bh.cgroupVersion} vs v${ch.cgroupVersion}`);
  const bc = b.harness?.commit;
  const cc = c.harness?.commit;
  if (bc && cc && bc !== cc) notes.push(`harness commit differs: ${bc.slice(0, 12)} vs ${cc.slice(0, 12)}${c.harness?.dirty ? ' (candidate tree dirty)' : ''}`);
  const changedTools = Object.keys({ ...b.tools, ...c.tools })
    .filter((k) => (b.tools ?? {})[k] !== (c.tools ?? {})[k])
    .map((k) => `${k} '${(b.tools ?? {})[k] ?? 'absent'}' -> '${(c.tools ?? {})[k] ?? 'absent'}'`);
  if (changedTools.length > 0) notes.push(`tool versions differ: ${changedTools.join('; ')}`);
  return notes;
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

function judge(row: MetricComparison, okBase: number[], okCand: number[], tol: Tolerance, seed: number): void {
  const { base, cand, better } = row;
  const ignored = ignoredBy(tol, row.cell, row.metric);
  const set = (verdict: Verdict, reason: string, suspect = false) => {
    row.verdict = ignored ? 'ignored' : verdict;
    row.reason = ignored ? `ignored by ${ignored.source} (would be: ${verdict}, ${reason})` : reason;
    row.suspect = ignored ? false : suspect;
  };
  if (base.accel !== cand.accel) {
    set('not compared', `acceleration differs (${base.accel} vs ${cand.accel})`);
    return;
  }
  if (okBase.length > 0 && okCand.length > 0) {
    const r = ratioCI(okCand, okBase);
    row.ratio = r.ratio;
    row.ratioLow = r.low;
    row.ratioHigh = r.high;
    row.changePct = (r.ratio - 1) * 100;
    row.changeLowPct = (r.low - 1) * 100;
    row.changeHighPct = (r.high - 1) * 100;
    const t = permutationTest(okBase, okCand, { seed });
    row.p = t.p;
    row.minP = t.minP;
    row.exact = t.exact;
    if (t.minP >= row.alpha) row.notes.push(`${okBase.length}+${okCand.length} samples cannot reach p < ${row.alpha} (smallest possible p ${t.minP.toPrecision(2)}): add repetitions`);
  }
  const dnfNote = `DNF ${base.dnf}/${base.runs} -> ${cand.dnf}/${cand.runs}`;
  // DNF first: a run that no longer finishes is a regression whatever the numbers of the others
  if (cand.dnf > 0 && base.dnf === 0 && base.runs > 0 && base.errors < base.runs) {
    set('regression', `new DNF: ${cand.dnf} of ${cand.runs} runs did not finish (the baseline finished all ${base.runs})`, true);
    return;
  }
  if (cand.dnf > 0 && base.dnf > 0) {
    row.notes.push(`DNF in both runs (${dnfNote})`);
    const pd = fisherGreater(base.dnf, base.runs, cand.dnf, cand.runs);
    if (pd < row.alpha) {
      set('regression', `more runs did not finish (${dnfNote}, Fisher exact p ${pd.toPrecision(2)})`, true);
      return;
    }
  }
  if (base.dnf > 0 && cand.dnf === 0 && cand.n > 0) {
    set('improvement', `DNF gone (${dnfNote})`);
    return;
  }
  if (base.n === 0 || cand.n === 0) {
    if (base.n === 0 && cand.n === 0 && base.dnf > 0 && cand.dnf > 0) set('no change', `did not finish in either run (${dnfNote})`);
    else if (cand.n === 0) set('not compared', cand.errors > 0 ? `no ok sample in the candidate (${cand.errors} error(s))` : 'no ok sample in the candidate');
    else set('not compared', base.errors > 0 ? `no ok sample in the baseline (${base.errors} error(s))` : 'no ok sample in the baseline');
    return;
  }
  if (!Number.isFinite(row.ratio)) {
    set('not compared', 'baseline mean is 0: no relative change');
    return;
  }
  if (cand.errors > base.errors) row.notes.push(`candidate has ${cand.errors} failed run(s) (baseline ${base.errors})`);
  const rel = row.ratio - 1;
  const beyond = Math.abs(rel) > row.threshold;
  const significant = row.p < row.alpha;
  const bad = better === 'lower' ? rel > 0 : rel < 0;
  const word = better === 'lower' ? (rel > 0 ? 'higher' : 'lower') : rel > 0 ? 'higher' : 'lower';
  const stats = `${pct(row.changePct)}, p ${row.p.toPrecision(2)}, threshold ${(row.threshold * 100).toFixed(1)}%`;
  if (significant && beyond) {
    set(bad ? 'regression' : 'improvement', `${word} (${better} is better): ${stats}`, bad);
  } else if (beyond && bad) {
    set('no change', `${word} beyond the threshold but not significant (${stats}): suspect, more samples would tell`, true);
  } else if (significant) {
    set('no change', `significant but within the noise threshold (${stats})`);
  } else {
    set('no change', `within noise (${stats})`);
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

/** The metrics and cells of two runs, for checking a tolerance file against them. */
export function namesOf(...runs: LoadedRun[]): { metrics: string[]; cells: string[] } {
  const all = runs.flatMap((r) => r.measured);
  return { metrics: distinct(all.map((s) => s.metric)).sort(), cells: distinct(all.map((s) => s.cell)) };
}

/** Compare two loaded runs. Throws UsageError when they cannot be compared (see checkComparable). */
export function compareRuns(base: LoadedRun, cand: LoadedRun, opts: CompareOptions = {}): Comparison {
  const tol = opts.tolerance ?? defaultTolerance();
  const seed = opts.seed ?? 1;
  const notes = [...base.notes.map((n) => `baseline: ${n}`), ...cand.notes.map((n) => `candidate: ${n}`), ...checkComparable(base, cand, opts)];
  const bg = groups(base.measured);
  const cg = groups(cand.measured);
  const baseCells = distinct([...bg.values()].map((g) => g.cell));
  const candCells = distinct([...cg.values()].map((g) => g.cell));
  const onlyInBaseline = baseCells.filter((c) => !candCells.includes(c));
  const onlyInCandidate = candCells.filter((c) => !baseCells.includes(c));
  const common = baseCells.filter((c) => candCells.includes(c));
  if (common.length === 0) {
    throw new UsageError(`cannot compare ${base.dir} with ${cand.dir}: no cell in common (baseline: ${baseCells.slice(0, 3).join(', ')}${baseCells.length > 3 ? ', ...' : ''}; candidate: ${candCells.slice(0, 3).join(', ')}${candCells.length > 3 ? ', ...' : ''})`);
  }

  const rows: MetricComparison[] = [];
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
    judge(row, okOf(g), okOf(other), tol, seed);
    rows.push(row);
  }
  for (const g of cg.values()) {
    if (common.includes(g.cell) && !bg.has(`${g.cell}\u0000${g.metric}`)) notes.push(`metric ${g.metric} of cell ${g.cell} is only in the candidate`);
  }

  const metrics = summarizeMetrics(rows);
  const regressions = rows.filter((r) => r.verdict === 'regression').length;
  return {
    suite: base.manifest.suite,
    baseline: info(base),
    candidate: info(cand),
    alpha: tol.alpha,
    threshold: tol.threshold,
    thresholds: tol.thresholds,
    ignore: tol.ignore.map((r) => (r.cells ? `${r.metric} in ${r.cells}` : r.metric)),
    toleranceFile: tol.file,
    seed,
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

// ---------------------------------------------------------------------------------------------
// Output: compare.csv, the terminal table and the Markdown report.

export const COMPARE_COLUMNS = [
  'suite',
  'cell',
  'platform',
  'workload',
  'neighbour_kind',
  'neighbour',
  'cpu_policy',
  'memory_limit',
  'overcommit',
  'metric',
  'unit',
  'better',
  'base_runs',
  'base_n',
  'base_mean',
  'base_sd',
  'base_cv',
  'base_dnf',
  'base_errors',
  'cand_runs',
  'cand_n',
  'cand_mean',
  'cand_sd',
  'cand_cv',
  'cand_dnf',
  'cand_errors',
  'ratio',
  'change_pct',
  'change_ci95_low_pct',
  'change_ci95_high_pct',
  'p',
  'min_p',
  'alpha',
  'threshold_pct',
  'verdict',
  'suspect',
  'reason',
  'notes',
] as const;

export function compareRecords(c: Comparison): (string | number)[][] {
  return c.rows.map((r) => {
    const f = formatNumber;
    const values: Record<(typeof COMPARE_COLUMNS)[number], string | number> = {
      suite: c.suite,
      cell: r.cell,
      platform: r.platform,
      workload: r.workload,
      neighbour_kind: r.neighbourKind,
      neighbour: r.neighbour,
      cpu_policy: r.cpuPolicy,
      memory_limit: r.memoryLimit,
      overcommit: f(r.overcommit),
      metric: r.metric,
      unit: r.unit,
      better: r.better,
      base_runs: r.base.runs,
      base_n: r.base.n,
      base_mean: f(r.base.mean),
      base_sd: f(r.base.sd),
      base_cv: f(r.base.cv),
      base_dnf: r.base.dnf,
      base_errors: r.base.errors,
      cand_runs: r.cand.runs,
      cand_n: r.cand.n,
      cand_mean: f(r.cand.mean),
      cand_sd: f(r.cand.sd),
      cand_cv: f(r.cand.cv),
      cand_dnf: r.cand.dnf,
      cand_errors: r.cand.errors,
      ratio: f(r.ratio),
      change_pct: f(r.changePct),
      change_ci95_low_pct: f(r.changeLowPct),
      change_ci95_high_pct: f(r.changeHighPct),
      p: f(r.p),
      min_p: f(r.minP),
      alpha: f(r.alpha),
      threshold_pct: f(r.threshold * 100),
      verdict: r.verdict,
      suspect: r.suspect ? 'yes' : 'no',
      reason: r.reason,
      notes: r.notes.join('; '),
    };
    return COMPARE_COLUMNS.map((k) => values[k]);
  });
}

/** Short display of numbers: 4 significant digits, no exponent for ordinary magnitudes. */
export function short(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e7) return String(Number(x.toPrecision(digits)));
  return x.toPrecision(digits);
}

function pctOrDash(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}%` : '-';
}

function sideText(s: Side, unit: string): string {
  if (s.n === 0) return s.dnf > 0 ? `DNF ${s.dnf}/${s.runs}` : s.errors > 0 ? `error ${s.errors}/${s.runs}` : '-';
  const cv = Number.isFinite(s.cv) ? ` (${(s.cv * 100).toFixed(1)}%)` : '';
  const dnf = s.dnf > 0 ? ` +${s.dnf} DNF` : '';
  return `${short(s.mean)} ${unit}${cv} n=${s.n}${dnf}`;
}

function ciText(r: MetricComparison): string {
  if (!Number.isFinite(r.changeLowPct) || !Number.isFinite(r.changeHighPct)) return '-';
  return `[${pctOrDash(r.changeLowPct)}, ${pctOrDash(r.changeHighPct)}]`;
}

function verdictText(r: MetricComparison): string {
  if (r.verdict === 'regression') return 'REGRESSION';
  if (r.verdict === 'no change' && r.suspect) return 'no change (suspect)';
  return r.verdict;
}

/** Cell ids shortened by dropping the id segments that every compared cell shares (kept: platform, workload, neighbour). */
export function shortCellIds(cells: readonly string[]): { short: Map<string, string>; common: string } {
  const parts = cells.map((c) => c.split('/'));
  const width = Math.max(0, ...parts.map((p) => p.length));
  const drop = new Set<number>();
  for (let i = 3; i < width; i++) {
    const vals = new Set(parts.map((p) => p[i]));
    if (vals.size === 1 && parts.every((p) => p.length === width)) drop.add(i);
  }
  const short = new Map(cells.map((c, k) => [c, parts[k]!.filter((_, i) => !drop.has(i)).join('/')]));
  const common = [...drop].sort((a, b) => a - b).map((i) => parts[0]![i]).join('/');
  return { short, common };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function headline(c: Comparison): string {
  const suspects = c.rows.filter((r) => r.suspect && r.verdict !== 'regression').length;
  const notCompared = c.rows.filter((r) => r.verdict === 'not compared').length;
  const parts = [
    c.regressions > 0 ? `REGRESSION: ${c.regressions} of ${c.rows.length} cell metrics regressed` : `no regression in ${c.rows.length} cell metrics`,
    `${c.improvements} improved`,
  ];
  if (suspects > 0) parts.push(`${suspects} suspect (beyond threshold, not significant)`);
  if (notCompared > 0) parts.push(`${notCompared} not compared`);
  return parts.join('; ');
}

function thresholdText(c: Comparison): string {
  const over = Object.entries(c.thresholds).map(([m, t]) => `${m} ${(t * 100).toFixed(1)}%`);
  return `${(c.threshold * 100).toFixed(1)}%${over.length ? ` (${over.join(', ')})` : ''}`;
}

function runLine(r: RunInfo): string {
  return `${r.dir} (${r.host}, ${r.created || 'unknown date'}, commit ${r.commit.slice(0, 12)}${r.dirty ? ' dirty' : ''})`;
}

/** The readable table for the terminal (plain text, no colour). */
export function formatTerminal(c: Comparison): string {
  const { short: ids, common } = shortCellIds(c.rows.map((r) => r.cell));
  const out: string[] = [];
  out.push(`virtbench compare, suite ${c.suite}`);
  out.push(`  baseline:  ${runLine(c.baseline)}`);
  out.push(`  candidate: ${runLine(c.candidate)}`);
  out.push(`  permutation test on the difference of means (seed ${c.seed}), alpha ${c.alpha}, noise threshold ${thresholdText(c)}${c.toleranceFile ? `, from ${c.toleranceFile}` : ''}`);
  if (common) out.push(`  every cell: .../${common}`);
  out.push('');
  out.push(
    table(
      ['cell', 'metric', 'baseline mean (cv) n', 'candidate mean (cv) n', 'change', '95% CI', 'p', 'verdict'],
      c.rows.map((r) => [ids.get(r.cell)!, r.metric, sideText(r.base, r.unit), sideText(r.cand, r.unit), pctOrDash(r.changePct), ciText(r), short(r.p, 2), verdictText(r)]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['metric', 'better', 'cells', 'geomean cand/base', 'regressed', 'improved', 'suspect'],
      c.metrics.map((m) => [`${m.metric} [${m.unit}]`, m.better, String(m.cells), Number.isFinite(m.geomeanRatio) ? `${m.geomeanRatio.toFixed(3)} (${pctOrDash((m.geomeanRatio - 1) * 100)})` : '-', String(m.regressions), String(m.improvements), String(m.suspect)]),
    ),
  );
  const flagged = c.rows.filter((r) => r.verdict === 'regression' || r.verdict === 'improvement' || r.suspect || r.verdict === 'not compared');
  if (flagged.length > 0) {
    out.push('');
    for (const r of flagged) out.push(`${verdictText(r)}: ${ids.get(r.cell)} ${r.metric}: ${r.reason}`);
  }
  if (c.onlyInBaseline.length > 0) out.push('', `only in the baseline: ${c.onlyInBaseline.join(', ')}`);
  if (c.onlyInCandidate.length > 0) out.push('', `only in the candidate: ${c.onlyInCandidate.join(', ')}`);
  const rowNotes = c.rows.flatMap((r) => r.notes.map((n) => `${ids.get(r.cell)} ${r.metric}: ${n}`));
  for (const n of [...c.notes, ...rowNotes]) out.push(`note: ${n}`);
  out.push('', headline(c));
  return out.join('\n') + '\n';
}

function md(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

/** A short Markdown report: headline, what was compared and how, regressions first, then every row. */
export function formatMarkdown(c: Comparison): string {
  const { short: ids, common } = shortCellIds(c.rows.map((r) => r.cell));
  const out: string[] = [];
  out.push(`# virtbench compare: ${c.suite}`, '');
  out.push(`**${headline(c)}**`, '');
  out.push(`- Baseline: \`${c.baseline.dir}\` (${c.baseline.host}, ${c.baseline.created}, commit ${c.baseline.commit.slice(0, 12)}${c.baseline.dirty ? ' dirty' : ''})`);
  out.push(`- Candidate: \`${c.candidate.dir}\` (${c.candidate.host}, ${c.candidate.created}, commit ${c.candidate.commit.slice(0, 12)}${c.candidate.dirty ? ' dirty' : ''})`);
  out.push(`- Test: two-sided permutation test on the difference of means (exact when the splits are few, else 20 000 seeded resamples, seed ${c.seed}); alpha ${c.alpha}; noise threshold ${thresholdText(c)}${c.toleranceFile ? ` from \`${c.toleranceFile}\`` : ''}`);
  if (c.ignore.length > 0) out.push(`- Ignored: ${c.ignore.join('; ')}`);
  out.push(`- Change = mean(candidate) / mean(baseline) - 1, 95% CI by Fieller's theorem; cv = sd / mean${common ? `; every cell ends in \`/${common}\`` : ''}`);
  out.push('');
  const flagged = c.rows.filter((r) => r.verdict === 'regression' || r.verdict === 'improvement' || r.suspect);
  if (flagged.length > 0) {
    out.push('## Flagged', '');
    out.push(mdTable(['verdict', 'cell', 'metric', 'change', '95% CI', 'p', 'why'], flagged.map((r) => [verdictText(r), ids.get(r.cell)!, r.metric, pctOrDash(r.changePct), ciText(r), short(r.p, 2), r.reason])));
    out.push('');
  }
  out.push('## Per metric', '');
  out.push(
    mdTable(
      ['metric', 'unit', 'better', 'cells', 'geomean cand/base', 'regressed', 'improved', 'suspect', 'ignored', 'not compared'],
      c.metrics.map((m) => [m.metric, m.unit, m.better, String(m.cells), Number.isFinite(m.geomeanRatio) ? m.geomeanRatio.toFixed(3) : '-', String(m.regressions), String(m.improvements), String(m.suspect), String(m.ignored), String(m.notCompared)]),
    ),
  );
  out.push('', '## Every cell', '');
  const ms = (s: Side) => (s.n === 0 ? (s.dnf > 0 ? `DNF ${s.dnf}/${s.runs}` : '-') : short(s.mean));
  out.push(
    mdTable(
      ['cell', 'metric', 'unit', 'base mean', 'base sd', 'base cv', 'base n', 'cand mean', 'cand sd', 'cand cv', 'cand n', 'change', '95% CI', 'p', 'verdict'],
      c.rows.map((r) => [
        ids.get(r.cell)!,
        r.metric,
        r.unit,
        ms(r.base),
        short(r.base.sd),
        Number.isFinite(r.base.cv) ? `${(r.base.cv * 100).toFixed(1)}%` : '-',
        `${r.base.n}${r.base.dnf ? ` (+${r.base.dnf} DNF)` : ''}`,
        ms(r.cand),
        short(r.cand.sd),
        Number.isFinite(r.cand.cv) ? `${(r.cand.cv * 100).toFixed(1)}%` : '-',
        `${r.cand.n}${r.cand.dnf ? ` (+${r.cand.dnf} DNF)` : ''}`,
        pctOrDash(r.changePct),
        ciText(r),
        short(r.p, 2),
        verdictText(r),
      ]),
    ),
  );
  if (c.onlyInBaseline.length > 0 || c.onlyInCandidate.length > 0) {
    out.push('', '## Cells in one run only', '');
    for (const x of c.onlyInBaseline) out.push(`- baseline only: \`${x}\``);
    for (const x of c.onlyInCandidate) out.push(`- candidate only: \`${x}\``);
  }
  const rowNotes = c.rows.flatMap((r) => r.notes.map((n) => `${ids.get(r.cell)} ${r.metric}: ${n}`));
  if (c.notes.length + rowNotes.length > 0) {
    out.push('', '## Notes', '');
    for (const n of [...c.notes, ...rowNotes]) out.push(`- ${n}`);
  }
  return out.join('\n') + '\n';
}
