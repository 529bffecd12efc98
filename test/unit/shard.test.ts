// --shard i/N: the split (core/shard.ts) on hand-made cells, and through the runner's dry run on the
// real isolation and baseline suites (no guests, no root).
import test from 'ava';
import { UsageError } from '../../core/errors.ts';
import { parseShard, ratioFamilies, assignFamilies, shardCells } from '../../core/shard.ts';
import type { Cell } from '../../core/types.ts';
import { runSuite } from '../../runner/index.ts';
import isolation from '../../suites/isolation.ts';
import baseline from '../../suites/baseline.ts';
import type { SuiteDefinition } from '../../core/matrix.ts';

/** A hand-made cell: only id and reference matter to the split. */
const cell = (id: string, reference?: string): Cell => ({ id, platform: id.split('/')[0]!, workload: 'w', resource: 'cpu', neighbourKind: 'none', neighbour: 'none', cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1, ...(reference ? { reference } : {}) });

test('bad shard specs are one UsageError line each', (t) => {
  for (const [spec, re] of [
    ['3/2', /i must be between 1 and N \(2\)/],
    ['0/4', /i must be between 1 and N \(4\)/],
    ['a/b', /must look like i\/N/],
    ['1/0', /N must be between 1 and 10000/],
    ['2', /must look like i\/N/],
    ['1/2/3', /must look like i\/N/],
    ['-1/2', /must look like i\/N/],
  ] as const) {
    const err = t.throws(() => parseShard(spec), { instanceOf: UsageError, message: re }, spec);
    t.false(err!.message.includes('\n'));
  }
  t.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  t.deepEqual(parseShard('1/1'), { index: 1, count: 1 });
});

test('ratio families: cells linked by references in either direction, transitively, in plan order', (t) => {
  const cells = [cell('a/none'), cell('b/none'), cell('a/x', 'a/none'), cell('c/none', 'a/none'), cell('b/x', 'b/none'), cell('d/alone'), cell('e/y', 'gone/none')];
  t.deepEqual(
    ratioFamilies(cells).map((f) => f.map((c) => c.id)),
    [['a/none', 'a/x', 'c/none'], ['b/none', 'b/x'], ['d/alone'], ['e/y']],
  );
});

test('families are dealt by estimated time, heaviest first onto the least-loaded shard, not by count', (t) => {
  // one heavy family and four light ones: by count each shard would get 2.5 families
  const { shardOf, loads } = assignFamilies([1, 100, 1, 1, 1], 2);
  t.deepEqual(shardOf, [1, 0, 1, 1, 1]);
  t.deepEqual(loads, [100, 4]);
  // greedy longest-first: no shard is more than the largest family above the lightest
  const weights = [13, 7, 29, 3, 11, 17, 5, 2, 19, 23];
  for (const n of [2, 3, 4]) {
    const r = assignFamilies(weights, n);
    t.is(r.loads.reduce((a, b) => a + b, 0), weights.reduce((a, b) => a + b, 0));
    t.true(Math.max(...r.loads) - Math.min(...r.loads) <= Math.max(...weights), `${n} shards: ${r.loads}`);
  }
});

test('every cell on exactly one shard, its family with it; the same split every time', (t) => {
  const cells: Cell[] = [];
  for (const p of ['baremetal', 'lxc', 'kvm']) {
    for (const w of ['k', 'f', 's']) {
      cells.push(cell(`${p}/${w}/none`));
      for (const n of ['c', 'o', 'a']) cells.push(cell(`${p}/${w}/${n}`, `${p}/${w}/none`));
    }
  }
  const weight = (c: Cell) => (c.platform === 'kvm' ? 30 : 10) + (c.id.endsWith('/a') ? 5 : 0);
  for (const n of [1, 2, 3, 4, 9]) {
    const parts = Array.from({ length: n }, (_, i) => shardCells(cells, { index: i + 1, count: n }, weight, cells.length * 3));
    const again = Array.from({ length: n }, (_, i) => shardCells(cells, { index: i + 1, count: n }, weight, cells.length * 3));
    t.deepEqual(parts, again, 'deterministic');
    const all = parts.flatMap((p) => p.cells.map((c) => c.id));
    t.deepEqual([...all].sort(), cells.map((c) => c.id).sort(), `${n} shards: every cell once`);
    const shardOf = new Map(parts.flatMap((p, i) => p.cells.map((c) => [c.id, i] as const)));
    for (const c of cells) if (c.reference) t.is(shardOf.get(c.id), shardOf.get(c.reference), `${c.id} with its reference`);
    for (const p of parts) {
      t.is(p.record.planCells.length, cells.length);
      t.is(p.record.planHash, parts[0]!.record.planHash);
      t.deepEqual(p.record.estimatesS, parts[0]!.record.estimatesS);
      // cells keep the plan's order
      t.deepEqual(p.cells.map((c) => c.id), cells.filter((c) => p.cells.includes(c)).map((c) => c.id));
    }
    t.true(Math.max(...parts[0]!.record.estimatesS) - Math.min(...parts[0]!.record.estimatesS) <= 4 * 35 + 30, `${n}: ${parts[0]!.record.estimatesS}`);
  }
});

async function dry(def: SuiteDefinition, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSuite(def, ['--dry-run', '--seed', '3', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const cellsOf = (out: string) => [...out.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!);

test('dry run of each shard of the isolation smoke plan: all cells once, reference cells with theirs, every shard estimated', async (t) => {
  const args = ['--profile', 'smoke', '--platforms', 'baremetal,lxc'];
  const whole = await dry(isolation, args);
  t.is(whole.code, 0, whole.err);
  const all = cellsOf(whole.out);
  for (const n of [2, 4]) {
    const seen: string[] = [];
    for (let i = 1; i <= n; i++) {
      const r = await dry(isolation, [...args, '--shard', `${i}/${n}`]);
      t.is(r.code, 0, r.err);
      t.regex(r.out, new RegExp(`^shard ${i}/${n}: \\d+ of ${all.length} cells \\(\\d+ ratio famil`, 'm'));
      t.regex(r.out, new RegExp(`^shards by estimated time .*: 1/${n} \\S+, .*slowest \\(the wall time of the whole run\\) \\S+$`, 'm'));
      const mine = cellsOf(r.out);
      // isolation compares each neighbour cell with its platform's and workload's no-neighbour cell
      for (const line of r.out.split('\n')) {
        const m = line.match(/^ {2}(\S+)\s+\(vs (\S+)\)/);
        if (m) t.true(mine.includes(m[2]!), `${m[1]} and its reference ${m[2]} on shard ${i}/${n}`);
      }
      seen.push(...mine);
    }
    t.deepEqual([...seen].sort(), [...all].sort(), `${n} shards cover the plan once`);
  }
});

test('baseline suite: ratios against bare metal keep every platform of a workload on one shard', async (t) => {
  const args = ['--profile', 'smoke', '--platforms', 'baremetal,lxc'];
  for (let i = 1; i <= 2; i++) {
    const r = await dry(baseline, [...args, '--shard', `${i}/2`]);
    t.is(r.code, 0, r.err);
    const mine = cellsOf(r.out);
    const workloads = new Set(mine.map((c) => c.split('/')[1]));
    for (const w of workloads) t.deepEqual(mine.filter((c) => c.split('/')[1] === w).map((c) => c.split('/')[0]).sort(), ['baremetal', 'lxc'], w);
  }
});

test('more shards than ratio families, a bad spec, and --shard beside --resume are refused with one line', async (t) => {
  // two platforms of one workload with its competing neighbour: two families
  const r = await dry(isolation, ['--profile', 'smoke', '--platforms', 'baremetal,lxc', '--workloads', 'kernel-compile', '--neighbours', 'competing', '--shard', '3/3']);
  t.is(r.code, 2);
  t.regex(r.err, /^virtbench: --shard 3\/3: the plan has only 2 ratio families .* use at most that many shards$/);
  for (const spec of ['3/2', '0/4', 'a/b', '1/0']) {
    const b = await dry(isolation, ['--shard', spec]);
    t.is(b.code, 2, spec);
    t.is(b.err.split('\n').length, 1, b.err);
    t.regex(b.err, /^virtbench: --shard/);
  }
  const res = await dry(isolation, ['--resume', '/nonexistent', '--shard', '1/2']);
  t.is(res.code, 2);
  t.regex(res.err, /--shard would change that plan/);
});
