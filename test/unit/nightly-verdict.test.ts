// The nightly verdict: Holm over the night's tests, and tonight against the spread of the last K
// accepted nights. Hand-computed values, then simulated nights whose level drifts from night to night.
import test from 'ava';
import { betweenNightTest } from '../../analysis/between-night.ts';
import { compareRuns } from '../../analysis/compare.ts';
import { holm } from '../../analysis/family.ts';
import { asLoaded, gaussian, syntheticRun, type SyntheticCell } from '../../analysis/synthetic.ts';
import type { LoadedRun } from '../../analysis/resultdir.ts';
import { rng } from '../../core/rng.ts';

test('holm: step-down adjusted p-values in the given order; NaN is not a test', (t) => {
  const adj = holm([0.01, 0.04, 0.03, NaN, 0.005]);
  // sorted 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> kept at 0.06 (monotone)
  const want = [0.03, 0.06, 0.06, NaN, 0.02];
  adj.forEach((p, i) => (Number.isNaN(want[i]!) ? t.true(Number.isNaN(p)) : t.true(Math.abs(p - want[i]!) < 1e-12, `${i}: ${p}`)));
  t.deepEqual(holm([0.5, 0.9]), [1, 0.9].map((x, i) => (i === 0 ? Math.min(1, 2 * 0.5) : Math.max(1, 0.9))));
});

test('betweenNightTest: prediction t with K-1 df (hand-computed, df 2)', (t) => {
  const same = betweenNightTest([100, 102, 98], [100, 100]);
  t.is(same.reference, 100);
  t.is(same.spread, 2);
  t.is(same.p, 1);
  // t = 10 / (2 sqrt(4/3)) = 4.3301; P(|T_2| > t) = 1 - t / sqrt(t^2 + 2) = 0.049411
  const off = betweenNightTest([100, 102, 98], [110]);
  t.true(Math.abs(off.p - 0.049411) < 1e-5, `p ${off.p}`);
  t.throws(() => betweenNightTest([100, 101], [100]), { message: /at least 3 reference nights/ });
  // tonight's own noise is a floor: identical reference nights do not make any difference significant
  const flat = betweenNightTest([100, 100, 100], [99, 101, 100, 102, 98]);
  t.true(flat.p > 0.1, `p ${flat.p}`);
});

const CELLS = ['baremetal', 'lxc', 'kvm'].flatMap((platform) =>
  (['kernel-compile', 'filebench'] as const).map((workload) => ({ platform, workload })),
);

/**
 * One night: every cell's level moves by N(0, drift) that night (the host's drift), runs vary by
 * `cv` around it; `slow` scales the first cell's wall_s (an injected regression).
 */
function night(i: number, drift: number, cv: number, slow = 1): LoadedRun {
  const next = rng(1000 + i);
  const cells: SyntheticCell[] = CELLS.map((c, k) => {
    const level = 1 + drift * gaussian(next);
    return {
      platform: c.platform,
      workload: c.workload,
      resource: c.workload === 'filebench' ? 'disk' : 'cpu',
      metrics: [
        { metric: 'wall_s', unit: 's', better: 'lower', mean: 100 * level * (k === 0 ? slow : 1), cv },
        { metric: 'ops_s', unit: 'op/s', better: 'higher', mean: 5000 / level, cv },
      ],
    };
  });
  const run = asLoaded(syntheticRun({ seed: 5000 + i, reps: 5, cells, created: new Date(Date.UTC(2025, 0, 1 + i)).toISOString() }), `/nights/${i}`);
  return run;
}

test('drift of 3% between nights: the old verdict fails most nights, the new one about alpha of them', (t) => {
  const K = 7;
  const nights = Array.from({ length: 80 }, (_, i) => night(i, 0.03, 0.01));
  let oldFail = 0;
  let newFail = 0;
  let judged = 0;
  for (let i = K; i < nights.length; i++) {
    const old = compareRuns(nights[i - 1]!, nights[i]!, { family: 'none' });
    const now = compareRuns(nights[i - 1]!, nights[i]!, { history: nights.slice(i - K, i - 1).reverse(), nights: K });
    t.is(now.referenceDirs.length, K);
    t.true(now.rows.every((r) => r.test === 'between-night'));
    judged++;
    if (old.exitCode === 1) oldFail++;
    if (now.exitCode === 1) newFail++;
  }
  t.log(`${judged} nights, 12 tests each: old verdict failed ${oldFail}, new ${newFail}`);
  t.true(oldFail / judged > 0.3, `old ${oldFail}/${judged}`);
  t.true(newFail / judged <= 0.05, `new ${newFail}/${judged}`);
});

// Power, not a guarantee: with 3% drift the nights' means have a spread of about 3%, and Holm over 12
// tests asks |t| > 6.2 at 6 df; a 25% slowdown gives t of about 7.6 on average.
for (const [slow, atLeast] of [[1.25, 0.6], [1.4, 0.95]] as const) {
  test(`a ${Math.round((slow - 1) * 100)}% slowdown of one cell against 7 drifting nights is caught at least ${atLeast * 100}% of the time`, (t) => {
    const K = 7;
    let caught = 0;
    const trials = 30;
    for (let k = 0; k < trials; k++) {
      const refs = Array.from({ length: K }, (_, i) => night(100 * k + i, 0.03, 0.01));
      const tonight = night(100 * k + K, 0.03, 0.01, slow);
      const c = compareRuns(refs[K - 1]!, tonight, { history: refs.slice(0, K - 1).reverse(), nights: K });
      const r = c.rows.find((x) => x.cell.startsWith('baremetal/kernel-compile') && x.metric === 'wall_s')!;
      if (r.verdict === 'regression') caught++;
    }
    t.log(`caught ${caught} of ${trials}`);
    t.true(caught / trials >= atLeast, `${caught}/${trials}`);
  });
}

test('fewer than 3 reference nights: the permutation test against the baseline, and the report says drift is not accounted for', (t) => {
  const a = night(1, 0.03, 0.01);
  const b = night(2, 0.03, 0.01);
  const c = compareRuns(a, b, { history: [night(0, 0.03, 0.01)] });
  t.true(c.rows.every((r) => r.test === 'permutation'));
  t.regex(c.notes.join(' '), /judged against one run: differences between nights \(drift of the host\) are not accounted for/);
});

test('compare <candidate> against an accepted baseline uses the nights in its history/', async (t) => {
  const { acceptBaseline } = await import('../../analysis/baseline.ts');
  const { compareDirs } = await import('../../analysis/compare-dirs.ts');
  const { writeRun } = await import('../../analysis/synthetic.ts');
  const { tempDir } = await import('../tmp.ts');
  const { join } = await import('node:path');
  const root = tempDir('virtbench-nights-');
  const dirs: string[] = [];
  for (let i = 0; i < 5; i++) {
    const n = night(300 + i, 0.03, 0.01);
    dirs.push(writeRun(join(root, 'runs', `n${i}`), { manifest: n.manifest, samples: n.samples }));
  }
  let base = '';
  for (const [i, d] of dirs.slice(0, 4).entries()) base = (await acceptBaseline(d, { root: join(root, 'results'), now: new Date(Date.UTC(2025, 0, 1 + i)) })).dir;
  const res = await compareDirs(base, dirs[4]!, { out: false });
  t.is(res.exitCode, 0, res.report);
  t.is(res.comparison!.referenceDirs.length, 4);
  t.true(res.comparison!.rows.every((r) => r.test === 'between-night' && r.nights === 4));
  t.regex(res.report, /against the spread of 4 reference nights' means \(Student t, 3 df\); alpha 0\.01 for the whole night \(Holm over 12 tests\)/);
  const one = await compareDirs(base, dirs[4]!, { out: false, nights: 1 });
  t.true(one.comparison!.rows.every((r) => r.test === 'permutation'));
});
