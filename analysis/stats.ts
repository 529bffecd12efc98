// Pure statistics over number[]: descriptive statistics with a Student-t confidence interval,
// Student-t quantiles, the Welch–Satterthwaite degrees of freedom and Fieller's interval for a
// ratio of two independent means. No I/O, no state.

import { max, mean, median, min, sampleStandardDeviation } from 'simple-statistics';

export interface Description {
  n: number;
  mean: number;
  /** Sample standard deviation (n-1 denominator); NaN when n < 2. */
  sd: number;
  /** Coefficient of variation sd/mean; NaN when sd is NaN or mean is 0. */
  cv: number;
  median: number;
  min: number;
  max: number;
  /** Two-sided 95% Student-t confidence interval of the mean; NaN when n < 2. */
  ci95Low: number;
  ci95High: number;
}

export interface RatioCI {
  /** mean(a) / mean(b); NaN when either sample is empty or mean(b) is 0. */
  ratio: number;
  /** Bounds of the 95% Fieller interval; NaN when the interval is unbounded or cannot be estimated. */
  low: number;
  high: number;
  /** Welch–Satterthwaite degrees of freedom used for t (NaN when not needed or not defined). */
  df: number;
  /** Fieller's g = t² · var(mean(b)) / mean(b)²; the interval is bounded only when g < 1. */
  g: number;
}

function assertFinite(values: readonly number[], what: string): void {
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`${what}: every value must be a finite number, got ${v}`);
  }
}

/** Variance of the mean (s²/n) of a sample with n >= 2. */
function varianceOfMean(values: readonly number[]): number {
  const sd = sampleStandardDeviation(values as number[]);
  return (sd * sd) / values.length;
}

/**
 * n, mean, sample sd, cv, median, min, max and the two-sided 95% Student-t confidence interval
 * mean ± t(0.975, n-1) · sd / √n. With n = 1 the sd, cv and interval are NaN; with n = 0 everything
 * but n is NaN.
 */
export function describe(values: readonly number[]): Description {
  assertFinite(values, 'describe');
  const n = values.length;
  if (n === 0) {
    return { n, mean: NaN, sd: NaN, cv: NaN, median: NaN, min: NaN, max: NaN, ci95Low: NaN, ci95High: NaN };
  }
  const xs = values as number[];
  const m = mean(xs);
  const sd = n >= 2 ? sampleStandardDeviation(xs) : NaN;
  const cv = Number.isNaN(sd) || m === 0 ? NaN : sd / m;
  const half = n >= 2 ? (tQuantile(0.975, n - 1) * sd) / Math.sqrt(n) : NaN;
  return {
    n,
    mean: m,
    sd,
    cv,
    median: median(xs),
    min: min(xs),
    max: max(xs),
    ci95Low: m - half,
    ci95High: m + half,
  };
}

/**
 * Welch–Satterthwaite degrees of freedom of mean(a) - scaleB · mean(b) for independent samples:
 *   df = (va + vb)² / (va²/(na-1) + vb²/(nb-1)),  va = s_a²/na,  vb = scaleB² · s_b²/nb.
 * NaN when either sample has fewer than 2 values or both variances are 0.
 */
export function welchDf(a: readonly number[], b: readonly number[], scaleB = 1): number {
  assertFinite(a, 'welchDf');
  assertFinite(b, 'welchDf');
  if (a.length < 2 || b.length < 2) return NaN;
  const va = varianceOfMean(a);
  const vb = scaleB * scaleB * varianceOfMean(b);
  const num = (va + vb) ** 2;
  const den = (va * va) / (a.length - 1) + (vb * vb) / (b.length - 1);
  if (den === 0) return NaN;
  return num / den;
}

/**
 * 95% confidence interval of mean(a) / mean(b) for two independent samples, by Fieller's theorem.
 *
 * Method. With ā, b̄ the means, va = s_a²/na and vb = s_b²/nb their variances (covariance 0 as the
 * samples are independent), the interval is every θ for which ā - θ·b̄ is not significantly
 * different from 0:  (ā - θ b̄)² <= t² (va + θ² vb).  Solving the quadratic in θ with r = ā/b̄ and
 * g = t² vb / b̄² gives
 *   θ = ( r ∓ (t/|b̄|) · √( va (1 - g) + r² vb ) ) / (1 - g).
 * t is the two-sided 95% Student-t quantile at the Welch–Satterthwaite df of ā - r·b̄ (the variance of
 * the pivot, with the point estimate r plugged in for θ; see welchDf with scaleB = r).
 * When g >= 1 the denominator mean is not significantly different from 0 and the confidence set is
 * unbounded (the whole line or two disjoint rays): low and high are then NaN.
 * When both samples have zero variance the interval collapses to the ratio itself.
 * Either sample with fewer than 2 values: the ratio is given and the interval is NaN.
 */
export function ratioCI(a: readonly number[], b: readonly number[]): RatioCI {
  assertFinite(a, 'ratioCI');
  assertFinite(b, 'ratioCI');
  const none = { low: NaN, high: NaN, df: NaN, g: NaN };
  if (a.length === 0 || b.length === 0) return { ratio: NaN, ...none };
  const ma = mean(a as number[]);
  const mb = mean(b as number[]);
  if (mb === 0) return { ratio: NaN, ...none };
  const r = ma / mb;
  if (a.length < 2 || b.length < 2) return { ratio: r, ...none };
  const va = varianceOfMean(a);
  const vb = varianceOfMean(b);
  if (va === 0 && vb === 0) return { ratio: r, low: r, high: r, df: NaN, g: 0 };
  const df = welchDf(a, b, r);
  const t = tQuantile(0.975, df);
  const g = (t * t * vb) / (mb * mb);
  if (!(g < 1)) return { ratio: r, low: NaN, high: NaN, df, g };
  const half = (t / Math.abs(mb)) * Math.sqrt(va * (1 - g) + r * r * vb);
  return { ratio: r, low: (r - half) / (1 - g), high: (r + half) / (1 - g), df, g };
}

// ---------------------------------------------------------------------------------------------
// Special functions.

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, about 15 significant digits). */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`lnGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection: Γ(x) Γ(1-x) = π / sin(πx).
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

const TINY = 1e-300;
const EPS = 1e-15;
const MAX_ITER = 100_000;

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  throw new Error(`incomplete beta: continued fraction did not converge (a=${a}, b=${b}, x=${x})`);
}

/**
 * Regularized incomplete beta I_x(a, b). `y` = 1 - x may be passed when it is known more precisely
 * than 1 - x can be computed.
 */
export function regularizedBeta(x: number, a: number, b: number, y = 1 - x): number {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(y);
  const front = Math.exp(lnFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, y)) / b;
}

/** Upper tail P(T > t) of Student's t with df degrees of freedom, for t >= 0. */
function tUpperTail(t: number, df: number): number {
  const t2 = t * t;
  return 0.5 * regularizedBeta(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
}

/** Regularized upper incomplete gamma Q(a, x) (series or continued fraction, Numerical Recipes). */
function upperGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnFront = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < MAX_ITER; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) return 1 - sum * Math.exp(lnFront);
    }
    throw new Error(`incomplete gamma: series did not converge (a=${a}, x=${x})`);
  }
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return Math.exp(lnFront) * h;
  }
  throw new Error(`incomplete gamma: continued fraction did not converge (a=${a}, x=${x})`);
}

/** Upper tail P(Z > z) of the standard normal, for z >= 0: ½ Q(½, z²/2). */
function normalUpperTail(z: number): number {
  return 0.5 * upperGamma(0.5, (z * z) / 2);
}

/**
 * The x > 0 where the decreasing function tail(x) equals q (0 < q < 0.5), by bracketing and
 * bisection to full double precision.
 */
function invertUpperTail(tail: (x: number) => number, q: number): number {
  let lo = 0;
  let hi = 1;
  while (tail(hi) > q) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return Infinity;
  }
  for (let i = 0; i < 2000; i++) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (tail(mid) > q) lo = mid;
    else hi = mid;
  }
  return lo + (hi - lo) / 2;
}

function checkProbability(p: number, fn: string): void {
  if (!(p > 0 && p < 1)) throw new RangeError(`${fn}: p must be in (0, 1), got ${p}`);
}

/** Quantile of the standard normal distribution. */
export function normalQuantile(p: number): number {
  checkProbability(p, 'normalQuantile');
  if (p === 0.5) return 0;
  const q = p < 0.5 ? p : 1 - p;
  const z = invertUpperTail(normalUpperTail, q);
  return p < 0.5 ? -z : z;
}

/** Above this df, tQuantile uses the Cornish–Fisher expansion around the normal quantile. */
const CORNISH_FISHER_DF = 1e5;

/**
 * Quantile of Student's t distribution: the t with P(T <= t) = p, for df > 0 (not necessarily an
 * integer, as Welch's df is not). Computed by inverting the exact CDF
 *   P(T > t) = ½ I_{df/(df+t²)}(df/2, ½)
 * by bisection; above df = 1e5 (where ln Γ cancellation would cost digits) by the Cornish–Fisher
 * expansion to 1/df⁴ (Abramowitz & Stegun 26.7.5), whose error there is far below 1e-15.
 * df = Infinity gives the normal quantile. NaN df gives NaN.
 */
export function tQuantile(p: number, df: number): number {
  checkProbability(p, 'tQuantile');
  if (Number.isNaN(df)) return NaN;
  if (!(df > 0)) throw new RangeError(`tQuantile: df must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (df === Infinity) return normalQuantile(p);
  if (df > CORNISH_FISHER_DF) {
    const z = normalQuantile(p);
    const z2 = z * z;
    const g1 = (z * (z2 + 1)) / 4;
    const g2 = (z * ((5 * z2 + 16) * z2 + 3)) / 96;
    const g3 = (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / 384;
    const g4 = (z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945)) / 92160;
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4;
  }
  const q = p < 0.5 ? p : 1 - p;
  const t = invertUpperTail((x) => tUpperTail(x, df), q);
  return p < 0.5 ? -t : t;
}
