import test from 'ava';
import { relativeSpread, roundRatio } from '../../analysis/rounds.ts';

const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;

test('within-round ratio: geometric mean of the per-round ratios, t interval on the log scale (hand-computed)', (t) => {
  // ratios 2 and 3: geometric mean sqrt(6); log sd = ln(1.5)/sqrt(2), t(0.975, 1) = 12.7062
  const r = roundRatio(new Map([[1, 10], [2, 12]]), new Map([[1, 5], [2, 4]]));
  t.is(r.pairs, 2);
  t.true(near(r.ratio, Math.sqrt(6)));
  t.true(Math.abs(r.low - 0.186359) < 1e-5, String(r.low));
  t.true(Math.abs(r.high - 32.19596) < 1e-4, String(r.high));
  // three rounds of a drifting host (82/84, 75/77, 71/70): computed by hand with t(0.975, 2) = 4.3027
  const d = roundRatio(new Map([[1, 82], [2, 75], [3, 71]]), new Map([[1, 84], [2, 77], [3, 70]]));
  t.true(Math.abs(d.ratio - 0.987996) < 1e-6, String(d.ratio));
  t.true(Math.abs(d.low - 0.933662) < 1e-6, String(d.low));
  t.true(Math.abs(d.high - 1.045492) < 1e-6, String(d.high));
});

test('within-round ratio: only rounds both cells have; fewer than 2 pairs has no interval', (t) => {
  const r = roundRatio(new Map([[1, 10], [2, 12], [5, 9]]), new Map([[1, 5], [3, 4]]));
  t.is(r.pairs, 1);
  t.is(r.ratio, 2);
  t.true(Number.isNaN(r.low) && Number.isNaN(r.high));
  t.is(roundRatio(new Map(), new Map([[1, 1]])).pairs, 0);
  t.true(Number.isNaN(roundRatio(new Map([[1, 0]]), new Map([[1, 1]])).ratio));
});

test('relative spread: (max - min) / median', (t) => {
  t.is(relativeSpread([90, 75, 100]), (100 - 75) / 90);
  t.is(relativeSpread([2, 4]), 2 / 3);
  t.true(Number.isNaN(relativeSpread([5])));
});
