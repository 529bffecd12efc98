// Multi-tenant cells in summary.csv: one sample per tenant and repetition (hand-made samples).
import test from 'ava';
import { summarize } from '../../analysis/summary.ts';
import type { Sample } from '../../core/types.ts';

function sample(cell: string, rep: number, tenant: number, value: number, reference?: string): Sample {
  return {
    suite: 'overcommit', cell, platform: 'lxc', workload: 'kernel-compile', resource: 'cpu', neighbourKind: 'none', neighbour: 'none',
    cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: cell.includes('x2') ? 2 : 1, ...(reference ? { reference } : {}),
    rep, warmup: false, metric: 'wall_s', value, unit: 's', better: 'lower', status: 'ok', accel: 'native', vcpus: 1, memoryBytes: 2 ** 30,
    start: '2026-12-01T00:00:00.000Z', end: '2026-12-01T00:00:10.000Z', tenant, tenants: cell.includes('t4') ? 4 : 2, group: 'fig9',
  };
}

test('a multi-tenant cell pools every tenant; its round ratio pairs the rounds\u2019 tenant means', (t) => {
  const ref = 'lxc/kernel-compile/none:none/cpuset/hard/x1/t2';
  const cell = 'lxc/kernel-compile/none:none/cpuset/hard/x2/t4';
  const samples: Sample[] = [];
  for (const rep of [1, 2, 3]) {
    // reference: tenants at 100 and 110 (+rep); x2: four tenants at 190..220 (+2*rep)
    [100, 110].forEach((v, tenant) => samples.push(sample(ref, rep, tenant, v + rep)));
    [190, 200, 210, 220].forEach((v, tenant) => samples.push(sample(cell, rep, tenant, v + 2 * rep, ref)));
  }
  const row = summarize(samples).find((r) => r.cell === cell)!;
  t.is(row.n, 12);
  t.is(row.mean, 209);
  t.is(row.round_pairs, 3);
  // per round: (205 + 2r) / (105 + r); the last tenant alone would give (220 + 2r) / (110 + r)
  const expected = Math.exp([1, 2, 3].map((r) => Math.log((205 + 2 * r) / (105 + r))).reduce((a, b) => a + b, 0) / 3);
  t.true(Math.abs(row.round_ratio - expected) < 1e-12, `${row.round_ratio} vs ${expected}`);
  t.true(Math.abs(row.ratio - 209 / 107) < 1e-12);
});
