// Tonight against the last K accepted nights of the same host, with the host's drift from night to
// night as part of the noise. Pure.
//
// Model: the mean of a cell's metric on night k is m_k = mu + b_k + e_k, where b_k ~ N(0, sb^2) is the
// night's level (thermal state, firmware, background services, page cache) and e_k ~ N(0, sw^2 / n)
// the noise of averaging n runs. The K reference nights' means have a sample variance s^2 that
// estimates sb^2 + sw^2/n without needing either apart. Without a change, tonight's mean is one more
// draw, so (m_0 - mean(m_1..m_K)) / (s * sqrt(1 + 1/K)) follows Student's t with K - 1 degrees of
// freedom (a prediction interval). Assumptions: the night levels are independent and roughly normal
// (no trend inside the window), the reference nights are free of regressions (they were accepted),
// and tonight has at least as many runs per cell as they had (more runs only make the test
// conservative). Tonight's mean is never taken as more precise than its own standard error.
import { regularizedBeta, tQuantile } from './stats.ts';

/** P(T > t) of Student's t with df degrees of freedom, t >= 0. */
function tUpper(t: number, df: number): number {
  const t2 = t * t;
  return 0.5 * regularizedBeta(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
}

/** At least this many reference nights are needed to estimate the between-night spread. */
export const MIN_NIGHTS = 3;

export interface BetweenNightResult {
  /** Two-sided p-value of "tonight is one more night like the reference nights". */
  p: number;
  /** Mean of the reference nights' means. */
  reference: number;
  /** Standard deviation of the reference nights' means (between-night spread, within-night noise included). */
  spread: number;
  /** Standard deviation used for tonight's deviation from the reference. */
  scale: number;
  df: number;
  /** 95% prediction-based interval of tonight's mean minus the reference, relative to the reference. */
  changeLow: number;
  changeHigh: number;
}

/**
 * `nights`: the reference nights' means (at least MIN_NIGHTS); `tonight`: tonight's ok values.
 */
export function betweenNightTest(nights: readonly number[], tonight: readonly number[]): BetweenNightResult {
  const K = nights.length;
  if (K < MIN_NIGHTS) throw new RangeError(`betweenNightTest: needs at least ${MIN_NIGHTS} reference nights, got ${K}`);
  if (tonight.length === 0) throw new RangeError('betweenNightTest: tonight has no value');
  for (const v of [...nights, ...tonight]) if (!Number.isFinite(v)) throw new RangeError(`betweenNightTest: every value must be finite, got ${v}`);
  const ref = nights.reduce((a, b) => a + b, 0) / K;
  const spread = Math.sqrt(nights.reduce((a, m) => a + (m - ref) ** 2, 0) / (K - 1));
  const n0 = tonight.length;
  const m0 = tonight.reduce((a, b) => a + b, 0) / n0;
  const sd0 = n0 > 1 ? Math.sqrt(tonight.reduce((a, x) => a + (x - m0) ** 2, 0) / (n0 - 1)) : 0;
  const scale = Math.max(spread * Math.sqrt(1 + 1 / K), sd0 / Math.sqrt(n0));
  const df = K - 1;
  const diff = m0 - ref;
  let p: number;
  if (scale === 0) p = diff === 0 ? 1 : 0;
  else p = Math.min(1, 2 * tUpper(Math.abs(diff) / scale, df));
  const half = tQuantile(0.975, df) * scale;
  const rel = (x: number) => (ref !== 0 ? x / Math.abs(ref) : NaN);
  return { p, reference: ref, spread, scale, df, changeLow: rel(diff - half), changeHigh: rel(diff + half) };
}
