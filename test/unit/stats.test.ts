import test from 'ava';
import { describe, lnGamma, normalQuantile, ratioCI, regularizedBeta, tQuantile, welchDf } from '../../analysis/stats.ts';

const close = (actual: number, expected: number, tol: number) =>
  Math.abs(actual - expected) <= tol ? true : `${actual} is not within ${tol} of ${expected}`;

test('describe [10, 12, 14]: values computed by hand', (t) => {
  // mean = 36/3 = 12; deviations -2, 0, 2; sample variance = (4+0+4)/(3-1) = 4; sd = 2; cv = 2/12.
  // ci half-width = t(0.975, 2) * sd / sqrt(3) = 4.302653 * 2 / 1.732051 = 4.968276.
  const d = describe([10, 12, 14]);
  t.is(d.n, 3);
  t.is(d.mean, 12);
  t.is(d.sd, 2);
  t.true(close(d.cv, 1 / 6, 1e-12));
  t.is(d.median, 12);
  t.is(d.min, 10);
  t.is(d.max, 14);
  t.true(close(d.ci95Low, 12 - 4.968276, 1e-5));
  t.true(close(d.ci95High, 12 + 4.968276, 1e-5));
});

test('describe of an unsorted sample with an even count', (t) => {
  // [4, 1, 3, 2]: mean 2.5, median (2+3)/2 = 2.5, variance (2.25+0.25+0.25+2.25)/3 = 5/3,
  // sd = 1.290994; half-width = t(0.975, 3) * sd / 2 = 3.182446 * 1.290994 / 2 = 2.054252.
  const d = describe([4, 1, 3, 2]);
  t.is(d.mean, 2.5);
  t.is(d.median, 2.5);
  t.is(d.min, 1);
  t.is(d.max, 4);
  t.true(close(d.sd, 1.290994, 1e-6));
  t.true(close(d.ci95High - d.mean, 2.054252, 1e-5));
});

test('describe with n = 1 gives NaN sd, cv and interval', (t) => {
  const d = describe([7]);
  t.is(d.n, 1);
  t.is(d.mean, 7);
  t.is(d.median, 7);
  t.true(Number.isNaN(d.sd));
  t.true(Number.isNaN(d.cv));
  t.true(Number.isNaN(d.ci95Low));
  t.true(Number.isNaN(d.ci95High));
});

test('describe with n = 0 and with non-finite values', (t) => {
  const d = describe([]);
  t.is(d.n, 0);
  t.true(Number.isNaN(d.mean));
  t.throws(() => describe([1, NaN]), { instanceOf: RangeError });
});

test('describe of a constant sample has a zero-width interval', (t) => {
  const d = describe([5, 5, 5, 5]);
  t.is(d.sd, 0);
  t.is(d.cv, 0);
  t.is(d.ci95Low, 5);
  t.is(d.ci95High, 5);
});

test('tQuantile(0.975, df) matches the textbook table', (t) => {
  const table: Array<[number, number]> = [
    [1, 12.706],
    [2, 4.303],
    [3, 3.182],
    [4, 2.776],
    [9, 2.262],
    [29, 2.045],
    [30, 2.042],
    [1000, 1.962],
  ];
  for (const [df, expected] of table) t.true(close(tQuantile(0.975, df), expected, 5e-4), `df=${df}`);
});

test('tQuantile against closed forms to high precision', (t) => {
  // df = 1 is the Cauchy distribution: quantile = tan(pi (p - 1/2)).
  for (const p of [0.6, 0.9, 0.975, 0.999, 1e-6]) {
    t.true(close(tQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-9 * Math.max(1, Math.abs(Math.tan(Math.PI * (p - 0.5))))), `p=${p}`);
  }
  // df = 2: quantile = (2p - 1) / sqrt(2 p (1 - p)).
  for (const p of [0.55, 0.975, 0.995, 0.02]) {
    t.true(close(tQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-10), `p=${p}`);
  }
  // Known to more digits: t(0.975, 4) = 2.7764451051977987, t(0.995, 9) = 3.2498355415921263.
  t.true(close(tQuantile(0.975, 4), 2.7764451051977987, 1e-11));
  t.true(close(tQuantile(0.995, 9), 3.2498355415921263, 1e-11));
});

test('tQuantile is antisymmetric, zero at the median and accepts fractional df', (t) => {
  t.is(tQuantile(0.5, 7), 0);
  t.true(close(tQuantile(0.025, 9), -tQuantile(0.975, 9), 1e-12));
  const q = tQuantile(0.975, 4.5);
  t.true(q < tQuantile(0.975, 4) && q > tQuantile(0.975, 5));
});

test('tQuantile tends to the normal quantile and is continuous where the method changes', (t) => {
  t.true(close(normalQuantile(0.975), 1.959963984540054, 1e-12));
  t.true(close(normalQuantile(0.995), 2.5758293035489004, 1e-12));
  t.true(close(normalQuantile(0.1), -1.2815515655446004, 1e-12));
  t.true(close(tQuantile(0.975, Infinity), 1.959963984540054, 1e-12));
  t.true(close(tQuantile(0.975, 1e9), 1.959963984540054, 1e-8));
  // Exact inversion just below 1e5 df, Cornish-Fisher just above: they must agree.
  t.true(close(tQuantile(0.975, 99_999.999), tQuantile(0.975, 100_000.001), 1e-10));
  t.true(close(tQuantile(0.9999, 99_999.999), tQuantile(0.9999, 100_000.001), 1e-10));
});

test('tQuantile rejects p outside (0, 1) and df <= 0, NaN df gives NaN', (t) => {
  t.throws(() => tQuantile(1, 3), { instanceOf: RangeError });
  t.throws(() => tQuantile(0, 3), { instanceOf: RangeError });
  t.throws(() => tQuantile(0.9, 0), { instanceOf: RangeError });
  t.true(Number.isNaN(tQuantile(0.975, NaN)));
});

test('special functions: lnGamma and the incomplete beta', (t) => {
  t.true(close(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14));
  t.true(close(lnGamma(10), Math.log(362880), 1e-12));
  // I_x(1, 1) = x; I_x(2, 1) = x^2; I_x(a, b) = 1 - I_{1-x}(b, a).
  t.true(close(regularizedBeta(0.3, 1, 1), 0.3, 1e-14));
  t.true(close(regularizedBeta(0.3, 2, 1), 0.09, 1e-14));
  t.true(close(regularizedBeta(0.2, 3.5, 1.5) + regularizedBeta(0.8, 1.5, 3.5), 1, 1e-14));
});

test('welchDf by hand', (t) => {
  // a = [10, 12, 14]: var 4, va = 4/3. b = [1, 2, 3, 4, 5]: var 2.5, vb = 0.5.
  // df = (4/3 + 1/2)^2 / ((4/3)^2 / 2 + (1/2)^2 / 4) = 3.361111 / (0.888889 + 0.0625) = 3.532847.
  t.true(close(welchDf([10, 12, 14], [1, 2, 3, 4, 5]), 3.532847, 1e-6));
  // Equal variances of the mean and equal n: df = 2 (n - 1).
  t.true(close(welchDf([1, 2, 3], [4, 5, 6]), 4, 1e-12));
  // scaleB multiplies b: [5, 6, 7] scaled by 2 has the variance of [10, 12, 14].
  t.true(close(welchDf([10, 12, 14], [5, 6, 7], 2), 4, 1e-12));
  t.true(Number.isNaN(welchDf([1], [1, 2])));
});

test("ratioCI by Fieller's theorem, hand-computed", (t) => {
  // a = [10, 12, 14]: mean 12, var 4, va = 4/3.  b = [5, 6, 7]: mean 6, var 1, vb = 1/3.
  // r = 12/6 = 2. Welch df of a - r b: va = 4/3 and r^2 vb = 4/3, equal, n = 3 each -> df = 2 (3 - 1) = 4.
  // t = t(0.975, 4) = 2.776445.  g = t^2 vb / mean(b)^2 = 7.708647 * (1/3) / 36 = 0.0713764.
  // half = (t / 6) * sqrt(va (1 - g) + r^2 vb) = 0.4627408 * sqrt(1.238165 + 1.333333)
  //      = 0.4627408 * 1.603590 = 0.742046.
  // low = (2 - 0.742046) / (1 - 0.0713764) = 1.354642; high = 2.742046 / 0.9286236 = 2.952802.
  const c = ratioCI([10, 12, 14], [5, 6, 7]);
  t.is(c.ratio, 2);
  t.true(close(c.df, 4, 1e-12));
  t.true(close(c.g, 0.0713764, 1e-6));
  t.true(close(c.low, 1.354642, 5e-6));
  t.true(close(c.high, 2.952802, 5e-6));
  // The interval is asymmetric around the ratio, wider above (as Fieller's is for a positive ratio).
  t.true(c.high - c.ratio > c.ratio - c.low);
});

test('ratioCI bounds are where the Fieller pivot equals t', (t) => {
  const a = [101, 97, 110, 104, 99, 95];
  const b = [50, 48, 55, 47, 52];
  const c = ratioCI(a, b);
  const ma = a.reduce((s, x) => s + x, 0) / a.length;
  const mb = b.reduce((s, x) => s + x, 0) / b.length;
  const vm = (xs: number[], m: number) => xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1) / xs.length;
  const tq = tQuantile(0.975, c.df);
  for (const theta of [c.low, c.high]) {
    const pivot = Math.abs(ma - theta * mb) / Math.sqrt(vm(a, ma) + theta * theta * vm(b, mb));
    t.true(close(pivot, tq, 1e-9), `theta=${theta}`);
  }
  t.true(c.low < c.ratio && c.ratio < c.high);
});

test('ratioCI is unbounded (NaN) when the denominator mean is not significantly different from 0', (t) => {
  // b = [-1, 1, 3]: mean 1, var 4, vb = 4/3; g = t^2 * (4/3) / 1 >> 1.
  const c = ratioCI([10, 12, 14], [-1, 1, 3]);
  t.is(c.ratio, 12);
  t.true(c.g >= 1);
  t.true(Number.isNaN(c.low));
  t.true(Number.isNaN(c.high));
});

test('ratioCI degenerate cases', (t) => {
  const single = ratioCI([10], [5, 6, 7]);
  t.is(single.ratio, 10 / 6);
  t.true(Number.isNaN(single.low) && Number.isNaN(single.high));
  const constant = ratioCI([4, 4], [2, 2, 2]);
  t.is(constant.ratio, 2);
  t.is(constant.low, 2);
  t.is(constant.high, 2);
  t.true(Number.isNaN(ratioCI([1, 2], [0, 0]).ratio));
  t.true(Number.isNaN(ratioCI([], [1, 2]).ratio));
});
