import test from 'ava';
import { allocationCpus, boundedSwapBytes, checkMemoryBudget, defaultMemoryBudget, overcommitSizes, tenancyLoad, tenantCpus, tenantShapes, type TenancyHost } from '../../core/tenancy.ts';
import { UsageError } from '../../core/errors.ts';

const GiB = 1024 ** 3;
const host = (cpus: number, o: Partial<TenancyHost> = {}): TenancyHost => ({ cpus, memoryBytes: 24 * GiB, swapBytes: 6 * GiB, memoryBudget: (cpus / 2) * 4 * GiB > 12 * GiB ? 12 * GiB : (cpus / 2) * 4 * GiB, vcpus: 2, guestMemoryBytes: 4 * GiB, ...o });
const oneLine = (t: import('ava').ExecutionContext, fn: () => unknown, re: RegExp) => {
  const err = t.throws(fn, { instanceOf: UsageError });
  t.regex(err!.message, re);
  t.false(err!.message.includes('\n'));
};

test('overcommit on 2 CPUs: V=2 does not divide 1.5 x 2, so the whole group gets V=1 and G = M V / C', (t) => {
  const h = host(2, { memoryBudget: 4 * GiB });
  const s = overcommitSizes([1, 1.5, 2], h);
  t.deepEqual(s.map((x) => [x.factor, x.tenants, x.vcpus, x.memoryBytes / GiB]), [[1, 2, 1, 2], [1.5, 3, 1, 2], [2, 4, 1, 2]]);
  for (const x of s) {
    t.is(x.tenants * x.vcpus, x.factor * h.cpus, 'N x V = f x C');
    t.is(x.tenants * x.memoryBytes, x.factor * h.memoryBudget, 'N x G = f x M');
  }
  // without 1.5 the profile's V stays
  t.deepEqual(overcommitSizes([1, 2], h).map((x) => [x.tenants, x.vcpus]), [[1, 2], [2, 2]]);
});

test('overcommit on 4, 8 and 16 CPUs keeps the profile V=2 and scales N with C', (t) => {
  for (const [cpus, n] of [[4, [2, 3, 4]], [8, [4, 6, 8]], [16, [8, 12, 16]]] as const) {
    const h = host(cpus, { memoryBudget: 8 * GiB, memoryBytes: 64 * GiB });
    const s = overcommitSizes([1, 1.5, 2], h);
    t.deepEqual(s.map((x) => x.tenants), [...n], `C=${cpus}`);
    t.true(s.every((x) => x.vcpus === 2));
    t.deepEqual(s.map((x) => x.memoryBytes), s.map(() => Math.floor((8 * GiB * 2) / cpus / (64 * 1024 ** 2)) * 64 * 1024 ** 2));
  }
});

test('default budget: C/V guests of the run size, at most half the host; bounded swap a quarter, at most 8 GiB', (t) => {
  t.is(defaultMemoryBudget(2, 24 * GiB, 2, 4 * GiB), 4 * GiB);
  t.is(defaultMemoryBudget(2, 24 * GiB, 1, 1 * GiB), 2 * GiB);
  t.is(defaultMemoryBudget(16, 24 * GiB, 2, 4 * GiB), 12 * GiB);
  t.is(defaultMemoryBudget(1, 24 * GiB, 2, 4 * GiB), 4 * GiB, 'a guest larger than the host still gets one guest of budget');
  t.is(boundedSwapBytes(24 * GiB), 6 * GiB);
  t.is(boundedSwapBytes(256 * GiB), 8 * GiB);
});

test('bad overcommit input: one line each', (t) => {
  oneLine(t, () => overcommitSizes([0.5], host(2)), /factor 0\.5 is below 1/);
  oneLine(t, () => overcommitSizes([1.5], host(3)), /1\.5 on 3 host CPUs gives 4\.5 vCPUs: f x C must be a whole number/);
  // 2 x 16 GiB = 32 GiB > 24 GiB memory + 6 GiB swap
  oneLine(t, () => overcommitSizes([2], host(2, { memoryBudget: 16 * GiB })), /needs 32 GiB, more than this host's 24 GiB memory and 6 GiB swap/);
  t.notThrows(() => overcommitSizes([2], host(2, { memoryBudget: 15 * GiB })));
  oneLine(t, () => overcommitSizes([1], host(2, { memoryBudget: 32 * GiB })), /--memory-budget 32 GiB is more than this host's memory \(24 GiB\)/);
  oneLine(t, () => checkMemoryBudget(25 * GiB, 24 * GiB), /more than this host's memory/);
  oneLine(t, () => overcommitSizes([2], host(16, { vcpus: 1, memoryBudget: 512 * 1024 ** 2, memoryBytes: 64 * GiB })), /32 tenants cannot fit in a 0\.5 GiB budget/);
});

test('allocation: k must divide C', (t) => {
  t.is(allocationCpus(2, 2), 1);
  t.is(allocationCpus(2, 8), 4);
  t.is(allocationCpus(4, 16), 4);
  oneLine(t, () => allocationCpus(4, 2), /4 tenants cannot each be given an equal whole share of 2 host CPUs/);
  oneLine(t, () => allocationCpus(3, 8), /3 tenants .* of 8 host CPUs \(k must divide C\)/);
  oneLine(t, () => allocationCpus(0, 8), /at least 1/);
});

test('allocation shapes: cpuset disjoint blocks, shares every CPU, quota every CPU capped at C/k', (t) => {
  const h = host(8, { memoryBudget: 8 * GiB, guestMemoryBytes: 4 * GiB });
  const cell = { tenants: 2, cpusPerTenant: 4, overcommit: 1 };
  const set = tenantShapes({ ...cell, cpuPolicy: 'cpuset' }, h)!;
  t.deepEqual(set.map((s) => s.cpus), [[0, 1, 2, 3], [4, 5, 6, 7]]);
  t.deepEqual(set.map((s) => [s.vcpus, s.cpuQuota, s.memoryBytes / GiB, s.busy]), [[4, undefined, 4, true], [4, undefined, 4, true]]);
  const shares = tenantShapes({ ...cell, cpuPolicy: 'shares', busy: 'one' }, h)!;
  t.deepEqual(shares.map((s) => [s.cpus.length, s.vcpus, s.cpuShares, s.cpuQuota, s.busy]), [[8, 8, 1024, undefined, true], [8, 8, 1024, undefined, false]]);
  const quota = tenantShapes({ ...cell, cpuPolicy: 'quota' }, h)!;
  // GuestSpec.cpuQuota is a fraction of vcpus CPUs: 0.5 x 8 = 4 CPUs = C/k
  t.deepEqual(quota.map((s) => [s.cpus.length, s.vcpus, s.cpuQuota! * s.vcpus]), [[8, 8, 4], [8, 8, 4]]);
  const small = tenantShapes({ tenants: 4, cpusPerTenant: 2, overcommit: 1, cpuPolicy: 'cpuset' }, { ...h, memoryBudget: 4 * GiB })!;
  t.deepEqual(small.map((s) => s.cpus), [[0, 1], [2, 3], [4, 5], [6, 7]]);
  t.true(small.every((s) => s.memoryBytes === 1 * GiB), 'memory min(guest, M/k)');
});

test('overcommit shapes: cpusets wrap around the host (vCPUs stacked on cores), G = f M / N', (t) => {
  const h = host(2, { memoryBudget: 2 * GiB });
  const s = tenantShapes({ tenants: 3, overcommit: 1.5, cpuPolicy: 'cpuset' }, h)!;
  t.deepEqual(s.map((x) => x.cpus), [[0], [1], [0]]);
  t.true(s.every((x) => x.vcpus === 1 && x.memoryBytes === 1 * GiB));
  t.deepEqual(tenantCpus('cpuset', 2, 4, 3), [[0, 1], [2, 3], [0, 1]]);
  t.deepEqual(tenantCpus('shares', 1, 2, 2), [[0, 1], [0, 1]]);
  const q = tenantShapes({ tenants: 2, overcommit: 2, cpuPolicy: 'quota' }, h)!;
  t.true(q.every((x) => x.vcpus === 2 && x.cpuQuota === 1 && x.cpus.length === 2));
  t.is(tenantShapes({ overcommit: 1, cpuPolicy: 'cpuset' }, h), undefined, 'single-tenant cells keep today\'s sizing');
});

test('estimate load: N busy TCG tenants cost N times; natively the busy vCPUs over the host CPUs', (t) => {
  const c = { cpus: 2 };
  t.is(tenancyLoad({ tenants: 3, overcommit: 1.5, cpuPolicy: 'cpuset' }, c, true), 3);
  t.is(tenancyLoad({ tenants: 3, overcommit: 1.5, cpuPolicy: 'cpuset' }, c, false), 1.5);
  t.is(tenancyLoad({ tenants: 2, overcommit: 1, cpuPolicy: 'cpuset' }, c, false), 1);
  t.is(tenancyLoad({ tenants: 2, busy: 'one', cpusPerTenant: 1, overcommit: 1, cpuPolicy: 'shares' }, c, true), 1);
  t.is(tenancyLoad({ overcommit: 1, cpuPolicy: 'cpuset' }, c, true), 1);
});
