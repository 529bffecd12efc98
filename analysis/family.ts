// Holm's step-down adjustment: the p-values of every cell and metric judged in one night form one
// family, and the probability that the night raises at least one false alarm (the family-wise error
// rate) stays at most alpha, whatever the dependence between the tests. Pure.
//
// Why Holm rather than Benjamini-Hochberg: what a nightly job must bound is the chance that a night
// with nothing changed fails (any false regression pages someone), which is the family-wise rate.
// BH bounds the expected share of false discoveries among the flagged ones: on a night where
// nothing changed that equals the family-wise rate, but on a night with one real regression BH lets
// further false ones through, and its guarantee needs positive dependence between tests. Metrics of
// one cell are strongly dependent (ops_s and mb_s are the same measurement), which Holm accepts
// without assumptions. Holm is uniformly more powerful than Bonferroni at the same guarantee.

/**
 * Holm-adjusted p-values, in the order given: adjusted p_(i) = max over j <= i of min(1, (m - j + 1)
 * p_(j)) with the p-values sorted ascending. NaN entries are not tests: they stay NaN and do not
 * count in m. Reject where adjusted p < alpha.
 */
export function holm(ps: readonly number[]): number[] {
  const idx = ps.map((p, i) => [p, i] as const).filter(([p]) => !Number.isNaN(p));
  idx.sort((a, b) => a[0] - b[0]);
  const m = idx.length;
  const out = ps.map(() => NaN);
  let running = 0;
  idx.forEach(([p, i], k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}
