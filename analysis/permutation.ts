// Two-sample permutation test on the difference of means: exact (every split of the pooled values)
// when the number of splits is small, otherwise Monte Carlo with the harness's seeded generator, so
// that a report can be reproduced from its seed. Pure.
//
// Why a permutation test: benchmark samples are small (3-10 runs) and rarely normal (skewed by
// interference, bimodal when a cache or a scheduler decision flips), which is where Student's and
// Welch's t lose their stated error rate. Under "both runs come from the same distribution" every
// assignment of the pooled values to the two sides is equally likely, so the share of assignments
// whose difference of means is at least as large as the observed one is an exact p-value, whatever
// the distribution.
import { rng } from '../core/rng.ts';

export interface PermutationOptions {
  /** Seed of the Monte Carlo resampler (ignored when the test is exact). Default 1. */
  seed?: number;
  /** Enumerate every split when there are at most this many (default 100 000). */
  exactLimit?: number;
  /** Random splits drawn when the test is not exact (default 20 000). */
  resamples?: number;
}

export interface PermutationResult {
  /** Two-sided p-value of H0 "a and b come from one distribution", statistic |mean(a) - mean(b)|. */
  p: number;
  /** mean(b) - mean(a). */
  diff: number;
  /** True when every split was enumerated. */
  exact: boolean;
  /** Splits enumerated or drawn. */
  permutations: number;
  /**
   * The smallest p this test can return with these sample sizes: 2 / C(n, k) for equal sizes
   * (a split and its mirror image tie), 1 / C(n, k) otherwise; 1 / (resamples + 1) when sampled.
   * When it is not below the significance level, no difference can ever be significant.
   */
  minP: number;
}

/** C(n, k) as a float (exact below 2^53). */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  k = Math.min(k, n - k);
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/**
 * Permutation test of the difference of means of two independent samples. Each needs at least one
 * value; all values finite. A split counts as extreme when its |difference| is at least the observed
 * one, up to a relative 1e-9 (so that ties from rounding count as ties).
 */
export function permutationTest(a: readonly number[], b: readonly number[], opts: PermutationOptions = {}): PermutationResult {
  for (const v of [...a, ...b]) if (!Number.isFinite(v)) throw new RangeError(`permutationTest: every value must be finite, got ${v}`);
  const na = a.length;
  const nb = b.length;
  if (na === 0 || nb === 0) throw new RangeError('permutationTest: both samples need at least one value');
  const pooled = [...a, ...b];
  const n = na + nb;
  const total = pooled.reduce((s, x) => s + x, 0);
  const sumA = a.reduce((s, x) => s + x, 0);
  const diffOf = (sA: number) => (total - sA) / nb - sA / na;
  const observed = diffOf(sumA);
  const scale = Math.max(...pooled.map(Math.abs), 1e-300);
  const cutoff = Math.abs(observed) - 1e-9 * scale;
  const splits = binomial(n, na);
  const exactLimit = opts.exactLimit ?? 100_000;

  if (splits <= exactLimit) {
    // Enumerate every subset of size na (as the side 'a') by its sum.
    let extreme = 0;
    let count = 0;
    const walk = (start: number, left: number, sum: number): void => {
      if (left === 0) {
        count++;
        if (Math.abs(diffOf(sum)) >= cutoff) extreme++;
        return;
      }
      for (let i = start; i <= n - left; i++) walk(i + 1, left - 1, sum + pooled[i]!);
    };
    walk(0, na, 0);
    return { p: extreme / count, diff: observed, exact: true, permutations: count, minP: (na === nb ? 2 : 1) / count };
  }

  const resamples = opts.resamples ?? 20_000;
  const next = rng(opts.seed ?? 1);
  const work = [...pooled];
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    // partial Fisher-Yates: the first na positions become a uniform random subset
    let s = 0;
    for (let i = 0; i < na; i++) {
      const j = i + Math.floor(next() * (n - i));
      const t = work[i]!;
      work[i] = work[j]!;
      work[j] = t;
      s += work[i]!;
    }
    if (Math.abs(diffOf(s)) >= cutoff) extreme++;
  }
  // the observed split counts as one of the draws (Phipson & Smyth): p is never 0
  return { p: (extreme + 1) / (resamples + 1), diff: observed, exact: false, permutations: resamples, minP: 1 / (resamples + 1) };
}
