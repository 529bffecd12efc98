// Adaptive repetitions (--reps auto): after each round, which cells need another interleaved
// repetition, and why. Pure: the runner gives the samples so far and schedules the cells returned.
//
// A cell gets another repetition while, for any of its metrics (ok values of measured runs),
//   'cv'      the coefficient of variation is above the threshold (default 2.5%), or
//   'outlier' a value lies beyond 3 standard deviations of the others (see isOutlier),
// until it has `cap` measured runs; a cell that stops at the cap with a reason still standing is
// marked 'cap reached' (with that reason beside it). Runs that did not finish count as runs but
// carry no value: a cell whose runs all DNF gets no more (a DNF is data, not noise).
//
// The cap is scaled by run length: cells may spend up to `budgetS` seconds in total, so a
// seconds-long smoke run may be repeated up to `maxReps` times while an hour-long paper run gets
// `minExtra` more repetitions than the initial ones at most.
import { schedule, type PlannedRun } from '../core/matrix.ts';
import type { AdaptiveReason, AdaptiveRecord } from '../core/results.ts';
import type { Cell, Sample } from '../core/types.ts';
import { describe, tQuantile } from './stats.ts';

// the manifest records these, so their shape lives with the manifest in core/
export type { AdaptiveReason, AdaptiveRecord };

export interface AdaptiveOptions {
  /** The initial repetitions (profile or --reps): no decision below them. */
  minReps: number;
  /** CoV threshold (default 0.025 = 2.5%). */
  cvThreshold?: number;
  /** Outlier distance in standard deviations (default 3). */
  outlierSd?: number;
  /** Measurement seconds a cell may take in total (default 1800). */
  budgetS?: number;
  /** Hard ceiling of measured repetitions per cell (default 30, never below minReps). */
  maxReps?: number;
  /** Extra repetitions always allowed beyond minReps, however long a run (default 2). */
  minExtra?: number;
  /** Metrics that never trigger repetitions (e.g. the tolerance file's ignore list). */
  ignoreMetrics?: readonly string[];
  /**
   * Seconds one run of a cell takes: a number for every cell, a map or a function per cell id.
   * Default: the median measured duration (end - start) of the cell's runs so far.
   */
  runSeconds?: number | Readonly<Record<string, number>> | ((cell: string) => number | undefined);
}

export const ADAPTIVE_DEFAULTS = { cvThreshold: 0.025, outlierSd: 3, budgetS: 1800, maxReps: 30, minExtra: 2 } as const;

export interface MetricCheck {
  metric: string;
  /** ok values. */
  n: number;
  cv: number;
  /** Measured repetitions (rep numbers) whose value is an outlier. */
  outlierReps: number[];
  cvHigh: boolean;
}

export interface CellDecision {
  cell: string;
  /** Measured runs recorded (ok, dnf or error). */
  reps: number;
  cap: number;
  /** Seconds per run used for the cap. */
  runSeconds: number;
  /** Schedule another repetition of this cell. */
  more: boolean;
  /**
   * Why more (cv and/or outlier); at the cap, the reasons that still stand plus 'cap reached'.
   * Empty when the cell is settled (or still below minReps: then more is true).
   */
  reasons: AdaptiveReason[];
  metrics: MetricCheck[];
  /** One line for the log and the manifest. */
  detail: string;
}

/** Largest number of measured repetitions a cell may get, for runs of `runSeconds`. */
export function repCap(runSeconds: number, opts: AdaptiveOptions): number {
  const budget = opts.budgetS ?? ADAPTIVE_DEFAULTS.budgetS;
  const ceiling = Math.max(opts.minReps, opts.maxReps ?? ADAPTIVE_DEFAULTS.maxReps);
  const floor = Math.min(ceiling, opts.minReps + (opts.minExtra ?? ADAPTIVE_DEFAULTS.minExtra));
  const byTime = runSeconds > 0 && Number.isFinite(runSeconds) ? Math.floor(budget / runSeconds) : ceiling;
  return Math.max(floor, Math.min(ceiling, byTime));
}

/**
 * Whether `x` lies beyond `k` standard deviations of the other values `rest` (at least 2 of them).
 * The distance is judged as a prediction interval: |x - mean(rest)| > q · sd(rest) · √(1 + 1/m),
 * m = rest.length, with q the Student-t quantile (m - 1 df) of the same two-sided tail probability
 * as k standard deviations of a normal (0.27% for k = 3). For many values this is the plain
 * "beyond 3 sd" rule; for few it accounts for sd(rest) being itself an estimate, so that noise alone
 * flags a value with probability 0.27% whatever n, rather than a third of all cells at n = 5. (Leaving
 * x out matters: with it in, no value of 10 or fewer can ever be 3 sd from the mean.)
 */
export function isOutlier(x: number, rest: readonly number[], k: number = ADAPTIVE_DEFAULTS.outlierSd): boolean {
  const m = rest.length;
  if (m < 2) return false;
  const d = describe(rest);
  const dist = Math.abs(x - d.mean);
  if (d.sd === 0) return dist > 1e-12 * Math.max(Math.abs(d.mean), 1e-300);
  const tail = normalTwoSidedTail(k);
  const q = tQuantile(1 - tail / 2, m - 1);
  return dist > q * d.sd * Math.sqrt(1 + 1 / m);
}

/**
 * P(|Z| > k) = erfc(k/√2) for a standard normal Z, by the Chebyshev-fitted approximation of
 * Numerical Recipes (erfcc; relative error below 1.2e-7, plenty for a tail probability used as
 * an outlier cut-off).
 */
function normalTwoSidedTail(k: number): number {
  const x = k / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const y =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return y;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function secondsOf(cell: string, samples: readonly Sample[], opt: AdaptiveOptions['runSeconds']): number {
  if (typeof opt === 'number') return opt;
  if (typeof opt === 'function') {
    const v = opt(cell);
    if (v !== undefined) return v;
  } else if (opt && opt[cell] !== undefined) {
    return opt[cell]!;
  }
  const durations = [...new Map(samples.map((s) => [s.rep, (Date.parse(s.end) - Date.parse(s.start)) / 1000])).values()].filter((d) => Number.isFinite(d) && d > 0);
  return durations.length > 0 ? median(durations) : NaN;
}

/**
 * For every cell, whether it needs another repetition and why: the `cells` given (in their order,
 * so that a cell without any sample yet is included), then any other cell that has samples.
 * `samples`: every sample of the run so far (warm-ups are ignored).
 */
export function decideRepetitions(samples: readonly Sample[], opts: AdaptiveOptions, cells?: readonly string[]): CellDecision[] {
  const cvMax = opts.cvThreshold ?? ADAPTIVE_DEFAULTS.cvThreshold;
  const k = opts.outlierSd ?? ADAPTIVE_DEFAULTS.outlierSd;
  const ignore = new Set(opts.ignoreMetrics ?? []);
  const byCell = new Map<string, Sample[]>();
  for (const c of cells ?? []) byCell.set(c, []);
  for (const s of samples) {
    if (s.warmup) continue;
    let list = byCell.get(s.cell);
    if (!list) byCell.set(s.cell, (list = []));
    list.push(s);
  }

  const out: CellDecision[] = [];
  for (const [cell, mine] of byCell) {
    const reps = new Set(mine.map((s) => s.rep)).size;
    const runSeconds = secondsOf(cell, mine, opts.runSeconds);
    const cap = repCap(runSeconds, opts);
    const metrics: MetricCheck[] = [];
    for (const metric of [...new Set(mine.map((s) => s.metric))]) {
      if (ignore.has(metric)) continue;
      const ok = mine.filter((s) => s.metric === metric && s.status === 'ok');
      const values = ok.map((s) => s.value as number);
      const d = describe(values);
      const outlierReps = ok.filter((s, i) => isOutlier(values[i]!, values.filter((_, j) => j !== i), k)).map((s) => s.rep);
      metrics.push({ metric, n: d.n, cv: d.cv, outlierReps, cvHigh: Number.isFinite(d.cv) && Math.abs(d.cv) > cvMax });
    }
    const reasons: AdaptiveReason[] = [];
    if (metrics.some((m) => m.cvHigh)) reasons.push('cv');
    if (metrics.some((m) => m.outlierReps.length > 0)) reasons.push('outlier');
    const why = metrics
      .filter((m) => m.cvHigh || m.outlierReps.length > 0)
      .map((m) => [m.cvHigh ? `${m.metric} cv ${(m.cv * 100).toFixed(1)}% > ${(cvMax * 100).toFixed(1)}%` : '', m.outlierReps.length ? `${m.metric} outlier in rep ${m.outlierReps.join(', ')}` : ''].filter(Boolean).join(', '))
      .join('; ');
    let more: boolean;
    let detail: string;
    if (reps < opts.minReps) {
      more = true;
      detail = `${reps} of ${opts.minReps} initial repetitions`;
    } else if (reasons.length === 0) {
      more = false;
      detail = metrics.length === 0 || metrics.every((m) => m.n === 0) ? `settled after ${reps} runs: no values to judge (DNF or errors)` : `settled after ${reps} runs`;
    } else if (reps >= cap) {
      more = false;
      reasons.push('cap reached');
      detail = `cap of ${cap} runs reached (${Number.isFinite(runSeconds) ? `${runSeconds.toFixed(0)} s per run` : 'run length unknown'}) with ${why}`;
    } else {
      more = true;
      detail = `${reps} runs, more: ${why}`;
    }
    out.push({ cell, reps, cap, runSeconds, more, reasons, metrics, detail });
  }
  return out;
}

/** Ids of the cells to repeat next (in the decisions' order; the runner interleaves them). */
export function cellsNeedingMore(decisions: readonly CellDecision[]): string[] {
  return decisions.filter((d) => d.more).map((d) => d.cell);
}

/**
 * One more interleaved round: every cell in `cells` once, in a seeded random order, each with the
 * next measured repetition number after those already recorded in `samples`.
 */
export function extraRound(cells: readonly Cell[], samples: readonly Sample[], seed: number): PlannedRun[] {
  const last = new Map<string, number>();
  for (const s of samples) if (!s.warmup) last.set(s.cell, Math.max(last.get(s.cell) ?? 0, s.rep));
  return schedule([...cells], 1, 0, seed).map((r) => ({ ...r, rep: (last.get(r.cell.id) ?? 0) + 1 }));
}

export function adaptiveRecord(d: CellDecision): AdaptiveRecord {
  return { cell: d.cell, reps: d.reps, cap: d.cap, reasons: d.reasons, detail: d.detail };
}
