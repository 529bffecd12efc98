// Ratios within rounds. Every round of a run measures every cell once (core/matrix.ts schedule),
// so a cell's rep r and its reference's rep r ran minutes apart: their ratio cancels whatever the
// host did slower than a round (drift of a shared machine's speed), which the ratio of the two
// means cannot (it pools drift into both cells' variances). Pure; no I/O.
import { sampleStandardDeviation } from 'simple-statistics';
import { tQuantile } from './stats.ts';

export interface RoundRatio {
  /** Geometric mean of the per-round ratios x_r / y_r; NaN with no pair. */
  ratio: number;
  /** 95% Student-t interval of the mean log ratio, back-transformed; NaN with fewer than 2 pairs. */
  low: number;
  high: number;
  /** Rounds in which both cells have an ok value (the pairs). */
  pairs: number;
}

/**
 * Pair values by round (rep number) and estimate the ratio from the per-round ratios, on the log
 * scale (a ratio's natural scale: 0.5 and 2 are equally far from 1), with a t interval over the
 * rounds. Rounds where either side has no ok value, or a value <= 0, are left out.
 */
export function roundRatio(cell: ReadonlyMap<number, number>, reference: ReadonlyMap<number, number>): RoundRatio {
  const logs: number[] = [];
  for (const [rep, x] of cell) {
    const y = reference.get(rep);
    if (y === undefined || !(x > 0) || !(y > 0)) continue;
    logs.push(Math.log(x / y));
  }
  const n = logs.length;
  if (n === 0) return { ratio: NaN, low: NaN, high: NaN, pairs: 0 };
  const m = logs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { ratio: Math.exp(m), low: NaN, high: NaN, pairs: n };
  const half = (tQuantile(0.975, n - 1) * sampleStandardDeviation(logs)) / Math.sqrt(n);
  return { ratio: Math.exp(m), low: Math.exp(m - half), high: Math.exp(m + half), pairs: n };
}

/** Relative spread (max - min) / median of positive values; NaN with fewer than 2. */
export function relativeSpread(values: readonly number[]): number {
  const xs = values.filter((v) => v > 0).sort((a, b) => a - b);
  if (xs.length < 2) return NaN;
  const mid = xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
  return (xs[xs.length - 1]! - xs[0]!) / mid;
}
