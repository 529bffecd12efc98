// Experiment cells (<platform>/<experiment>/<param>) as the lifecycle figures and tables read them:
// the measured samples of each cell and metric, params in natural order (n2 before n16), the
// number some params carry parsed into an x value (storm n<N>[-<image kind>], contention d<k>), and
// percentiles of raw samples. Pure.
import type { Sample } from '../core/types.ts';

/** The measured samples of one experiment cell and metric. */
export interface ExperimentGroup {
  cell: string;
  platform: string;
  experiment: string;
  param: string;
  metric: string;
  unit: string;
  better: string;
  /** Distinct accelerations of the samples, joined by '+'. */
  accel: string;
  /** Values of the 'ok' samples, in file order. */
  values: number[];
  dnf: number;
  errors: number;
  /** Distinct repetitions with a sample of this metric. */
  runs: number;
  /** Whether the metric has one sample per guest of a run (the samples carry `tenant`). */
  perGuest: boolean;
}

/** Whether a sample is of an experiment cell (the runner sets `param` only there). */
export const isExperimentSample = (s: Sample): boolean => typeof s.param === 'string';

/** Natural order of params: digit runs compare as numbers ('n2' < 'n16', 'n4' < 'n4-private'). */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** Measured (non-warm-up) samples of experiment cells, grouped by cell and metric, in file order. */
export function experimentGroups(samples: readonly Sample[]): ExperimentGroup[] {
  const groups = new Map<string, ExperimentGroup & { reps: Set<number>; accels: Set<string> }>();
  for (const s of samples) {
    if (s.warmup || !isExperimentSample(s)) continue;
    const key = `${s.cell}\u0000${s.metric}`;
    let g = groups.get(key);
    if (!g) {
      g = { cell: s.cell, platform: s.platform, experiment: s.workload, param: s.param!, metric: s.metric, unit: s.unit, better: s.better, accel: '', values: [], dnf: 0, errors: 0, runs: 0, perGuest: false, reps: new Set(), accels: new Set() };
      groups.set(key, g);
    }
    g.reps.add(s.rep);
    g.accels.add(s.accel);
    if (s.tenant !== undefined) g.perGuest = true;
    if (s.status === 'ok' && typeof s.value === 'number') g.values.push(s.value);
    else if (s.status === 'dnf') g.dnf++;
    else g.errors++;
  }
  return [...groups.values()].map(({ reps, accels, ...g }) => ({ ...g, runs: reps.size, accel: [...accels].join('+') }));
}

/**
 * The p-quantile (0..1) of raw values by linear interpolation between order statistics
 * (Hyndman and Fan's type 7, R's and numpy's default): position (n-1)p of the sorted values.
 * NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const xs = [...values].sort((a, b) => a - b);
  const h = (xs.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, xs.length - 1);
  return xs[lo]! + (h - lo) * (xs[hi]! - xs[lo]!);
}

/** An experiment whose params carry a number to draw on an x axis, lines per platform (and series). */
export interface ParamAxis {
  experiment: string;
  /** First group: the x value; second (optional): the series within a platform. */
  pattern: RegExp;
  /** Series of a param without the second group. */
  defaultSeries: string;
  xTitle: string;
  /** Powers of two (storm sizes) read best on a log2 axis; an axis from 0 cannot be one. */
  log2: boolean;
}

export const PARAM_AXES: readonly ParamAxis[] = [
  { experiment: 'storm', pattern: /^n(\d+)(?:-(.+))?$/, defaultSeries: 'shared', xTitle: 'guests launched at once (N)', log2: true },
  { experiment: 'contention', pattern: /^d(\d+)(?:-(.+))?$/, defaultSeries: '', xTitle: 'neighbours stressing the disk', log2: false },
];

/** The x value and series a param stands for on its experiment's axis, or undefined when it has none. */
export function paramPoint(experiment: string, param: string): { x: number; series: string } | undefined {
  const axis = PARAM_AXES.find((a) => a.experiment === experiment);
  const m = axis?.pattern.exec(param);
  if (!axis || !m) return undefined;
  return { x: Number(m[1]), series: m[2] ?? axis.defaultSeries };
}
