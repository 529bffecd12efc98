import test from 'ava';
import { binomial, permutationTest } from '../../analysis/permutation.ts';

test('binomial coefficients', (t) => {
  t.is(binomial(6, 3), 20);
  t.is(binomial(10, 5), 252);
  t.is(binomial(20, 10), 184756);
  t.is(binomial(5, 0), 1);
  t.is(binomial(5, 6), 0);
});

test('exact test, worked by hand: a = [1, 2, 3], b = [4, 5, 6]', (t) => {
  // 20 splits of {1..6} into 3 + 3; |mean difference| is 3 only for the observed split and its
  // mirror image, so p = 2/20 = 0.1, which is also the smallest p three values per side allow.
  const r = permutationTest([1, 2, 3], [4, 5, 6]);
  t.true(r.exact);
  t.is(r.permutations, 20);
  t.is(r.diff, 3);
  t.is(r.p, 0.1);
  t.is(r.minP, 0.1);
});

test('exact test, worked by hand: a = [1, 2, 4], b = [3, 5, 6]', (t) => {
  // observed |diff| = |14/3 - 7/3| = 7/3. Sums of the 3-subsets taken as 'a' (total 21): the diff
  // is (21 - 2s)/3, so |diff| >= 7/3 when s <= 7 or s >= 14. Subsets with sum <= 7: {1,2,3},
  // {1,2,4}: 2; by symmetry 2 with sum >= 14. p = 4/20 = 0.2.
  const r = permutationTest([1, 2, 4], [3, 5, 6]);
  t.is(r.p, 0.2);
});

test('identical samples give p = 1; unequal sizes have minP = 1/C(n, k)', (t) => {
  t.is(permutationTest([5, 5, 5], [5, 5, 5]).p, 1);
  const r = permutationTest([1, 2], [3, 4, 5]);
  t.is(r.permutations, 10);
  t.is(r.minP, 0.1);
  // observed |diff| = 4 - 1.5 = 2.5; the split {4, 5} | {1, 2, 3} gives |2 - 4.5| = 2.5 too: p = 2/10
  t.is(r.p, 0.2);
});

test('Monte Carlo agrees with the exact test and is reproducible from its seed', (t) => {
  const a = [10.1, 10.4, 9.8, 10.0, 10.6, 10.2];
  const b = [10.9, 11.2, 10.3, 11.0, 10.8, 11.4];
  const exact = permutationTest(a, b);
  t.true(exact.exact);
  const mc1 = permutationTest(a, b, { exactLimit: 10, resamples: 20000, seed: 42 });
  const mc2 = permutationTest(a, b, { exactLimit: 10, resamples: 20000, seed: 42 });
  t.false(mc1.exact);
  t.is(mc1.p, mc2.p);
  t.true(Math.abs(mc1.p - exact.p) < 0.01, `${mc1.p} vs ${exact.p}`);
  t.true(mc1.p > 0);
  t.not(permutationTest(a, b, { exactLimit: 10, resamples: 20000, seed: 43 }).p, undefined);
});

test('rejects empty samples and non-finite values', (t) => {
  t.throws(() => permutationTest([], [1]), { instanceOf: RangeError });
  t.throws(() => permutationTest([1, NaN], [1]), { instanceOf: RangeError });
});
