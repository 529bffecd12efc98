import test from 'ava';
import { cpuLayout, expandCells, fitToHost, runKey, sampleCellFields, schedule } from '../../core/matrix.ts';
import isolation from '../../suites/isolation.ts';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../core/errors.ts';
import type { TenancyHost } from '../../core/tenancy.ts';
import baseline from '../../suites/baseline.ts';
import overcommit from '../../suites/overcommit.ts';
import allocation from '../../suites/allocation.ts';
import nested from '../../suites/nested.ts';

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

// --- suites with groups (axes and tenants) ---


const GiB = 1024 ** 3;
const two: TenancyHost = { cpus: 2, memoryBytes: 24 * GiB, swapBytes: 6 * GiB, memoryBudget: 2 * GiB, vcpus: 1, guestMemoryBytes: 1 * GiB };
const groupSel = (platforms: string[], tenancy: TenancyHost = two) => ({ platforms, cpuPolicy: 'cpuset' as const, memoryLimit: 'hard' as const, overcommit: 1, tenancy });

test('baseline and isolation keep the cell ids and references they had before suite groups (commit 85f9c5e)', (t) => {
  const before = JSON.parse(readFileSync(new URL('../fixtures/matrix/cell-ids-85f9c5e.json', import.meta.url), 'utf8')) as Record<string, { selection: never; cells: { id: string; reference: string | null }[] }>;
  const suites = { baseline, isolation };
  let compared = 0;
  for (const [key, v] of Object.entries(before)) {
    if (key === 'note') continue;
    const def = suites[key.split('/')[0] as keyof typeof suites];
    const now = expandCells(def, v.selection).map((c) => ({ id: c.id, reference: c.reference ?? null }));
    t.deepEqual(now, v.cells, key);
    compared += now.length;
    t.true(expandCells(def, v.selection).every((c) => c.tenants === undefined && c.group === undefined && c.busy === undefined));
  }
  t.is(compared, 294);
});

test('overcommit on 2 CPUs: Figure 9 against 1x on the same platform, Figure 11 soft against hard and lxc soft against kvm', (t) => {
  const cells = expandCells(overcommit, groupSel(['lxc', 'kvm', 'lightvm']));
  const byId = new Map(cells.map((c) => [c.id, c]));
  t.is(byId.size, cells.length, 'ids are unique');
  const fig9 = cells.filter((c) => c.group === 'fig9');
  // 3 platforms x 2 workloads x 3 factors
  t.is(fig9.length, 18);
  const k15 = byId.get('kvm/kernel-compile/none:none/cpuset/hard/x1.5/t3')!;
  t.like(k15, { tenants: 3, overcommit: 1.5, group: 'fig9', reference: 'kvm/kernel-compile/none:none/cpuset/hard/x1/t2', referenceAxis: 'overcommit' });
  t.is(byId.get('kvm/kernel-compile/none:none/cpuset/hard/x1/t2')!.reference, undefined);
  t.is(byId.get('lightvm/specjbb-like/none:none/cpuset/hard/x2/t4')!.reference, 'lightvm/specjbb-like/none:none/cpuset/hard/x1/t2');
  const soft = byId.get('lxc/ycsb-redis/none:none/cpuset/soft/x1.5/t3')!;
  t.like(soft, { group: 'fig11-limits', memoryLimit: 'soft', reference: 'lxc/ycsb-redis/none:none/cpuset/hard/x1.5/t3', referenceAxis: 'memoryLimit' });
  t.is(byId.get(soft.reference!)!.reference, undefined);
  // the same measurement serves Figures 9 and 11: planned once, with Figure 9's reference
  const shared = cells.filter((c) => c.id === 'lxc/specjbb-like/none:none/cpuset/hard/x1.5/t3');
  t.is(shared.length, 1);
  t.like(shared[0]!, { group: 'fig9', reference: 'lxc/specjbb-like/none:none/cpuset/hard/x1/t2' });
  t.is(byId.get('lxc/specjbb-like/none:none/cpuset/soft/x1.5/t3')!.reference, shared[0]!.id);
  // Figure 11's 2x group alone has no 1.5 factor: the profile's V would stay, here V=1 anyway
  t.like(byId.get('lxc/specjbb-like/none:none/cpuset/soft/x2/t4')!, { group: 'fig11-platform', reference: 'kvm/specjbb-like/none:none/cpuset/hard/x2/t4', referenceAxis: 'platform' });
  t.is(cells.length, 18 + 3 + 1);
});

test('overcommit with V=2: Figure 11 at 2x keeps 2 vCPUs per tenant while Figure 9 drops to 1 for 1.5x', (t) => {
  const cells = expandCells(overcommit, groupSel(['lxc', 'kvm'], { ...two, vcpus: 2, memoryBudget: 4 * GiB }));
  const ids = cells.map((c) => c.id);
  t.true(ids.includes('lxc/specjbb-like/none:none/cpuset/soft/x2/t2'));
  t.true(ids.includes('kvm/specjbb-like/none:none/cpuset/hard/x2/t2'));
  t.true(ids.includes('kvm/specjbb-like/none:none/cpuset/hard/x2/t4'));
  t.is(cells.find((c) => c.id === 'lxc/specjbb-like/none:none/cpuset/soft/x2/t2')!.reference, 'kvm/specjbb-like/none:none/cpuset/hard/x2/t2');
  // on 4 CPUs 1.5 x 4 / 2 is whole: the profile's V stays
  const four = expandCells(overcommit, groupSel(['lxc'], { ...two, cpus: 4, vcpus: 2, memoryBudget: 8 * GiB }));
  t.deepEqual(four.filter((c) => c.group === 'fig9' && c.workload === 'kernel-compile').map((c) => c.id), [
    'lxc/kernel-compile/none:none/cpuset/hard/x1/t2',
    'lxc/kernel-compile/none:none/cpuset/hard/x1.5/t3',
    'lxc/kernel-compile/none:none/cpuset/hard/x2/t4',
  ]);
});

test('a platform reference that is not selected leaves the ratio empty', (t) => {
  const cells = expandCells(overcommit, groupSel(['lxc']));
  t.is(cells.find((c) => c.group === 'fig11-platform')!.reference, undefined);
  const n = expandCells(nested, groupSel(['lxcvm']));
  t.true(n.every((c) => c.reference === undefined));
});

test('allocation: k=2 tenants of 1 CPU each by cpuset, shares and quota, all or one busy, against cpuset', (t) => {
  const cells = expandCells(allocation, groupSel(['lxc', 'baremetal']));
  t.is(cells.length, 2 * 2 * 3 * 2);
  const lxcJbb = cells.filter((c) => c.platform === 'lxc' && c.workload === 'specjbb-like');
  t.deepEqual(lxcJbb.map((c) => [c.id, c.reference ?? null]), [
    ['lxc/specjbb-like/none:none/cpuset/hard/x1/t2/c1', null],
    ['lxc/specjbb-like/none:none/cpuset/hard/x1/t2/busy-one/c1', null],
    ['lxc/specjbb-like/none:none/shares/hard/x1/t2/c1', 'lxc/specjbb-like/none:none/cpuset/hard/x1/t2/c1'],
    ['lxc/specjbb-like/none:none/shares/hard/x1/t2/busy-one/c1', 'lxc/specjbb-like/none:none/cpuset/hard/x1/t2/busy-one/c1'],
    ['lxc/specjbb-like/none:none/quota/hard/x1/t2/c1', 'lxc/specjbb-like/none:none/cpuset/hard/x1/t2/c1'],
    ['lxc/specjbb-like/none:none/quota/hard/x1/t2/busy-one/c1', 'lxc/specjbb-like/none:none/cpuset/hard/x1/t2/busy-one/c1'],
  ]);
  t.true(lxcJbb.every((c) => c.tenants === 2 && c.cpusPerTenant === 1 && c.group === 'fig10'));
  t.true(lxcJbb.filter((c) => c.reference).every((c) => c.referenceAxis === 'cpuPolicy'));
  t.deepEqual(lxcJbb.map((c) => c.busy ?? 'all'), ['all', 'one', 'all', 'one', 'all', 'one']);
  // 8 CPUs: still k=2, 4 CPUs each; --tenants 4 gives 2 each
  const eight = expandCells(allocation, groupSel(['lxc'], { ...two, cpus: 8 }));
  t.true(eight.every((c) => c.id.endsWith('/c4')));
  t.true(expandCells(allocation, { ...groupSel(['lxc'], { ...two, cpus: 8 }), allocationTenants: [4] }).every((c) => c.id.includes('/t4/') && c.cpusPerTenant === 2));
  t.throws(() => expandCells(allocation, { ...groupSel(['lxc']), allocationTenants: [4] }), { instanceOf: UsageError, message: /4 tenants cannot each be given an equal whole share of 2 host CPUs/ });
});

test('nested: lxcvm soft containers against kvm VMs at 1.5x', (t) => {
  const cells = expandCells(nested, groupSel(['kvm', 'lxcvm']));
  t.deepEqual(cells.map((c) => [c.id, c.reference ?? null, c.referenceAxis ?? null]), [
    ['kvm/kernel-compile/none:none/shares/hard/x1.5/t3', null, null],
    ['kvm/ycsb-redis/none:none/shares/hard/x1.5/t3', null, null],
    ['lxcvm/kernel-compile/none:none/shares/soft/x1.5/t3', 'kvm/kernel-compile/none:none/shares/hard/x1.5/t3', 'platform'],
    ['lxcvm/ycsb-redis/none:none/shares/soft/x1.5/t3', 'kvm/ycsb-redis/none:none/shares/hard/x1.5/t3', 'platform'],
  ]);
});

test('a CPU policy a platform cannot express: skipped with a line, or refused when the platform was chosen', (t) => {
  const skipped: string[] = [];
  const sel = { ...groupSel(['lxc', 'baremetal']), cpuPolicies: { lxc: ['cpuset', 'shares'] as ('cpuset' | 'shares')[] }, onSkip: (l: string) => skipped.push(l) };
  const cells = expandCells(allocation, sel);
  t.false(cells.some((c) => c.platform === 'lxc' && c.cpuPolicy === 'quota'));
  t.true(cells.some((c) => c.platform === 'baremetal' && c.cpuPolicy === 'quota'));
  t.deepEqual(skipped, ['skipping fig10 cells of lxc with quota: platform lxc cannot express CPU policy quota (it supports cpuset, shares)']);
  const err = t.throws(() => expandCells(allocation, { ...sel, explicitPlatforms: true }), { instanceOf: UsageError });
  t.regex(err!.message, /^platform lxc cannot express CPU policy quota .*: leave it out of --platforms for suite allocation$/);
});

test('overcommit factors from the command line replace the groups\' and are checked', (t) => {
  const cells = expandCells(overcommit, { ...groupSel(['lxc']), overcommitFactors: [1, 3] });
  t.deepEqual([...new Set(cells.map((c) => `x${c.overcommit}/t${c.tenants}`))], ['x1/t2', 'x3/t6']);
  t.throws(() => expandCells(overcommit, { ...groupSel(['lxc']), overcommitFactors: [0.5] }), { instanceOf: UsageError, message: /below 1/ });
  t.throws(() => expandCells(overcommit, groupSel(['lxc'], { ...two, cpus: 3 })), { instanceOf: UsageError, message: /f x C must be a whole number/ });
  t.throws(() => expandCells(overcommit, groupSel(['lxc'], { ...two, memoryBudget: 16 * GiB })), { instanceOf: UsageError, message: /more than this host's 24 GiB memory and 6 GiB swap/ });
});

test('samples carry the cell\'s tenants, busy, group and CPUs per tenant', (t) => {
  const c = expandCells(allocation, groupSel(['lxc'])).find((x) => x.busy === 'one')!;
  t.like(sampleCellFields(c), { cell: c.id, tenants: 2, busy: 'one', group: 'fig10', cpusPerTenant: 1 });
  const plain = sampleCellFields(expandCells(baseline, sel)[0]!);
  t.false('tenants' in plain || 'group' in plain || 'busy' in plain);
});

test('an overcommit cell of one tenant keeps a single-tenant id but is still sized from the budget', async (t) => {
  const { tenantShapes } = await import('../../core/tenancy.ts');
  const host = { ...two, vcpus: 2, memoryBudget: 3 * GiB, guestMemoryBytes: 2 * GiB };
  const cells = expandCells(overcommit, { ...groupSel(['lxc'], host), workloads: ['kernel-compile'], overcommitFactors: [1, 2] });
  const x1 = cells.find((c) => c.overcommit === 1)!;
  t.is(x1.id, 'lxc/kernel-compile/none:none/cpuset/hard/x1');
  t.is(x1.tenants, 1);
  t.deepEqual(tenantShapes(x1, host)!.map((s) => [s.vcpus, s.memoryBytes / GiB, s.cpus]), [[2, 3, [0, 1]]]);
  const x2 = cells.find((c) => c.overcommit === 2)!;
  t.is(x2.id, 'lxc/kernel-compile/none:none/cpuset/hard/x2/t2');
  t.deepEqual(tenantShapes(x2, host)!.map((s) => [s.vcpus, s.memoryBytes / GiB, s.cpus]), [[2, 3, [0, 1]], [2, 3, [0, 1]]]);
  t.is(x2.reference, x1.id);
});
