import test from 'ava';
import { cpuLayout, expandCells, fitToHost, runKey, schedule } from '../../core/matrix.ts';
import isolation from '../../suites/isolation.ts';

const sel = { platforms: ['baremetal', 'lxc'], cpuPolicy: 'cpuset' as const, memoryLimit: 'hard' as const, overcommit: 1 };

test('isolation expands to the Section 4.2 CPU, disk, memory and network rows per platform', (t) => {
  const cells = expandCells(isolation, sel);
  // per platform: CPU 4, disk 4, memory 4, ycsb-redis alone 1, network (rubis) 4
  t.is(cells.length, 2 * 17);
  const lxcMem = cells.filter((c) => c.platform === 'lxc' && c.workload === 'specjbb-like').map((c) => `${c.neighbourKind}:${c.neighbour}`);
  t.deepEqual(lxcMem, ['none:none', 'competing:specjbb-like', 'orthogonal:kernel-compile', 'adversarial:malloc-bomb']);
  t.deepEqual(cells.filter((c) => c.platform === 'lxc' && c.workload === 'ycsb-redis').map((c) => c.neighbour), ['none']);
  t.is(cells.find((c) => c.platform === 'lxc' && c.workload === 'kernel-compile' && c.neighbourKind === 'orthogonal')?.neighbour, 'specjbb-like');
  const lxcDisk = cells.filter((c) => c.platform === 'lxc' && c.workload === 'filebench').map((c) => `${c.neighbourKind}:${c.neighbour}`);
  t.deepEqual(lxcDisk, ['none:none', 'competing:filebench', 'orthogonal:kernel-compile', 'adversarial:bonnie']);
  const bomb = cells.find((c) => c.neighbour === 'fork-bomb' && c.platform === 'lxc')!;
  t.is(bomb.id, 'lxc/kernel-compile/adversarial:fork-bomb/cpuset/hard/x1');
  t.is(bomb.reference, 'lxc/kernel-compile/none:none/cpuset/hard/x1');
  t.is(cells.find((c) => c.id === bomb.reference)!.reference, undefined);
});

test('neighbour filter keeps the reference cells', (t) => {
  const cells = expandCells(isolation, { ...sel, neighbours: ['adversarial'] });
  t.deepEqual(
    cells.filter((c) => c.platform === 'baremetal').map((c) => c.neighbour),
    ['none', 'fork-bomb', 'none', 'bonnie', 'none', 'malloc-bomb', 'none', 'none', 'udp-flood'],
  );
});

test('baremetal reference points other platforms at bare metal', (t) => {
  const cells = expandCells({ ...isolation, reference: 'baremetal' }, sel);
  const c = cells.find((x) => x.platform === 'lxc' && x.neighbour === 'none' && x.workload === 'filebench')!;
  t.is(c.reference, 'baremetal/filebench/none:none/cpuset/hard/x1');
  t.is(cells.find((x) => x.platform === 'baremetal' && x.neighbour === 'none')!.reference, undefined);
  const lone = expandCells({ ...isolation, reference: 'baremetal' }, { ...sel, platforms: ['lxc'] });
  t.true(lone.every((x) => x.reference === undefined), 'no dangling reference when bare metal is not run');
});

test('schedule interleaves cells, warm-ups first, and is replayable from its seed', (t) => {
  const cells = expandCells(isolation, sel);
  const a = schedule(cells, 3, 1, 42);
  t.is(a.length, cells.length * 4);
  t.true(a.slice(0, cells.length).every((r) => r.warmup && r.rep === 1));
  t.true(a.slice(cells.length).every((r) => !r.warmup));
  t.deepEqual(new Set(a.map((r) => runKey(r.cell.id, r.rep, r.warmup))).size, a.length);
  t.deepEqual(schedule(cells, 3, 1, 42).map((r) => r.cell.id), a.map((r) => r.cell.id));
  t.notDeepEqual(schedule(cells, 3, 1, 43).map((r) => r.cell.id), a.map((r) => r.cell.id));
  const round2 = a.slice(cells.length, 2 * cells.length).map((r) => r.cell.id);
  const round3 = a.slice(2 * cells.length, 3 * cells.length).map((r) => r.cell.id);
  t.notDeepEqual(round2, round3, 'each round has its own order');
});

test('cpu layout: exclusive pinned blocks, or every CPU under shares', (t) => {
  t.deepEqual(cpuLayout('cpuset', 2, 8, 2), [[0, 1], [2, 3]]);
  t.deepEqual(cpuLayout('cpuset', 1, 2, 2), [[0], [1]]);
  t.deepEqual(cpuLayout('shares', 2, 4, 2), [[0, 1, 2, 3], [0, 1, 2, 3]]);
});

test('guests are fitted to the host and the change is said', (t) => {
  const f = fitToHost({ vcpus: 2, memoryBytes: 4 * 1024 ** 3, cpuPolicy: 'cpuset' }, 2, 2, 24 * 1024 ** 3);
  t.is(f.vcpus, 1);
  t.is(f.memoryBytes, 4 * 1024 ** 3);
  t.is(f.adjustments.length, 1);
  t.regex(f.adjustments[0]!, /reduced from 2 to 1/);
  const g = fitToHost({ vcpus: 2, memoryBytes: 16 * 1024 ** 3, cpuPolicy: 'shares' }, 2, 2, 24 * 1024 ** 3);
  t.is(g.vcpus, 2);
  t.is(g.memoryBytes, 9 * 1024 ** 3);
});
