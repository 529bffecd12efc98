// Sizing of multi-tenant cells (pure). Overcommit f on C host CPUs with a tenant memory budget M:
// N tenants of V vCPUs and G memory with N x V = f x C and N x G = f x M. Allocation: k tenants
// each given C/k CPUs by cpuset, shares or quota. Every impossible request is a UsageError of one
// line, said before anything starts.
import { UsageError } from './errors.ts';
import type { Cell, CpuPolicy } from './types.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** Memory sizes are whole multiples of this (a VM's -m, a cgroup limit). */
const GRAIN = 64 * MiB;
const gib = (b: number) => `${+(b / GiB).toFixed(2)} GiB`;

/** What sizing needs to know about the host and the run. */
export interface TenancyHost {
  /** Host CPUs (C). */
  cpus: number;
  memoryBytes: number;
  /** Swap the tenants' excess may go to: the host's, or the bounded one the harness provides for the run. */
  swapBytes: number;
  /** Where that swap comes from (for the plan's text). */
  swapSource?: 'host' | 'bounded';
  /** The tenants' memory budget M (the arena's limit). */
  memoryBudget: number;
  /** The run's size of one guest (profile or --vcpus / --memory). */
  vcpus: number;
  guestMemoryBytes: number;
}

/** Swap the harness provides for a run on a host without one: a quarter of memory, at most 8 GiB. */
export function boundedSwapBytes(hostMemory: number): number {
  return Math.min(Math.floor(hostMemory / 4 / GRAIN) * GRAIN, 8 * GiB);
}

/** M by default: what C/V full-size guests would be given, at most half the host's memory. */
export function defaultMemoryBudget(hostCpus: number, hostMemory: number, vcpus: number, guestMemoryBytes: number): number {
  const full = Math.max(1, Math.floor(hostCpus / vcpus)) * guestMemoryBytes;
  return Math.floor(Math.min(hostMemory / 2, full) / GRAIN) * GRAIN;
}

/** A budget larger than host memory cannot be an arena's limit. */
export function checkMemoryBudget(budget: number, hostMemory: number): void {
  if (budget > hostMemory) throw new UsageError(`--memory-budget ${gib(budget)} is more than this host's memory (${gib(hostMemory)})`);
}

export interface OvercommitSize {
  factor: number;
  /** N */
  tenants: number;
  /** V */
  vcpus: number;
  /** G, bytes */
  memoryBytes: number;
}

/**
 * N, V and G for each factor of a group. V is the run's vCPUs per guest where f*C/V is a whole
 * number for every factor, else 1 (one V for the whole group, so that its cells differ only in f):
 * G = f*M/N = M*V/C is then the same for every factor too.
 */
export function overcommitSizes(factors: number[], host: TenancyHost): OvercommitSize[] {
  checkMemoryBudget(host.memoryBudget, host.memoryBytes);
  for (const f of factors) {
    if (!(f >= 1)) throw new UsageError(`overcommit factor ${f} is below 1: there is nothing to overcommit`);
    if (!Number.isInteger(f * host.cpus)) throw new UsageError(`overcommit factor ${f} on ${host.cpus} host CPUs gives ${f * host.cpus} vCPUs: f x C must be a whole number`);
    const total = f * host.memoryBudget;
    if (total > host.memoryBytes + host.swapBytes) {
      throw new UsageError(
        `overcommit ${f}x of a ${gib(host.memoryBudget)} budget needs ${gib(total)}, more than this host's ${gib(host.memoryBytes)} memory and ${gib(host.swapBytes)} swap can hold (lower --memory-budget)`,
      );
    }
  }
  const fits = (v: number) => factors.every((f) => Number.isInteger((f * host.cpus) / v));
  const vcpus = fits(host.vcpus) ? host.vcpus : 1;
  return factors.map((f) => {
    const tenants = (f * host.cpus) / vcpus;
    const memoryBytes = Math.floor((f * host.memoryBudget) / tenants / GRAIN) * GRAIN;
    if (memoryBytes < GRAIN) throw new UsageError(`overcommit ${f}x: ${tenants} tenants cannot fit in a ${gib(host.memoryBudget)} budget (under 64 MiB each)`);
    return { factor: f, tenants, vcpus, memoryBytes };
  });
}

/** Allocation: k tenants each with C/k host CPUs; k must divide C. */
export function allocationCpus(k: number, hostCpus: number): number {
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`allocation tenant count must be a whole number of at least 1, got ${k}`);
  if (k > hostCpus || hostCpus % k !== 0) throw new UsageError(`${k} tenants cannot each be given an equal whole share of ${hostCpus} host CPUs (k must divide C)`);
  return hostCpus / k;
}

/** What one tenant of a cell is given. */
export interface TenantShape {
  tenant: number;
  vcpus: number;
  /** Host CPUs it may run on. */
  cpus: number[];
  cpuShares: number;
  /** CFS quota as a fraction of `vcpus` CPUs (GuestSpec.cpuQuota); only under policy 'quota'. */
  cpuQuota?: number;
  memoryBytes: number;
  /** Runs the workload (busy 'one': tenant 0 only). */
  busy: boolean;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/**
 * CPUs of each of `tenants` tenants of `vcpus` vCPUs: cpuset = consecutive blocks, wrapping
 * around the host when overcommitted (vCPUs stacked on cores); shares and quota = every CPU.
 */
export function tenantCpus(policy: CpuPolicy, vcpus: number, hostCpus: number, tenants: number): number[][] {
  if (policy !== 'cpuset') return Array.from({ length: tenants }, () => range(0, hostCpus));
  return Array.from({ length: tenants }, (_, t) => range(t * vcpus, vcpus).map((c) => c % hostCpus));
}

/**
 * Every tenant of a cell sized for tenants (Cell.tenants set, even to 1), or undefined for any
 * other cell (today's sizing: the run's vCPUs and memory).
 * Allocation cells (cpusPerTenant set): cpuset = disjoint blocks of C/k CPUs with C/k vCPUs;
 * shares = every CPU, equal weights, C vCPUs (so a lone busy tenant can use idle cores);
 * quota = every CPU, C vCPUs, capped at C/k CPUs (cpuQuota = (C/k)/C). Memory: min(guest, M/k).
 * Overcommit cells: N tenants of V = f*C/N vCPUs and G = f*M/N memory; quota caps each at V CPUs.
 */
export function tenantShapes(cell: Pick<Cell, 'tenants' | 'busy' | 'cpusPerTenant' | 'cpuPolicy' | 'overcommit'>, host: TenancyHost): TenantShape[] | undefined {
  if (cell.tenants === undefined && cell.cpusPerTenant === undefined) return undefined;
  const n = cell.tenants ?? 1;
  const busy = (t: number) => cell.busy !== 'one' || t === 0;
  if (cell.cpusPerTenant !== undefined) {
    const c = allocationCpus(n, host.cpus);
    const memoryBytes = Math.min(host.guestMemoryBytes, Math.floor(host.memoryBudget / n / GRAIN) * GRAIN);
    return range(0, n).map((t) => {
      if (cell.cpuPolicy === 'cpuset') return { tenant: t, vcpus: c, cpus: range(t * c, c), cpuShares: 1024, memoryBytes, busy: busy(t) };
      const quota = cell.cpuPolicy === 'quota' ? { cpuQuota: c / host.cpus } : {};
      return { tenant: t, vcpus: host.cpus, cpus: range(0, host.cpus), cpuShares: 1024, ...quota, memoryBytes, busy: busy(t) };
    });
  }
  const vcpus = (cell.overcommit * host.cpus) / n;
  if (!Number.isInteger(vcpus)) throw new UsageError(`overcommit ${cell.overcommit}x with ${n} tenants on ${host.cpus} host CPUs is not a whole number of vCPUs each`);
  const memoryBytes = Math.floor((cell.overcommit * host.memoryBudget) / n / GRAIN) * GRAIN;
  const cpus = tenantCpus(cell.cpuPolicy, vcpus, host.cpus, n);
  return range(0, n).map((t) => ({ tenant: t, vcpus, cpus: cpus[t]!, cpuShares: 1024, ...(cell.cpuPolicy === 'quota' ? { cpuQuota: 1 } : {}), memoryBytes, busy: busy(t) }));
}

/**
 * How much longer a run of this cell takes than one single-tenant run, for estimates: natively the
 * busy tenants' vCPUs over the host's CPUs (at least 1); under TCG each busy guest is emulated on
 * the shared cores, so N busy tenants cost about N times.
 */
export function tenancyLoad(cell: Pick<Cell, 'tenants' | 'busy' | 'cpusPerTenant' | 'cpuPolicy' | 'overcommit'>, host: Pick<TenancyHost, 'cpus'>, tcg: boolean): number {
  const n = cell.tenants ?? 1;
  const busy = cell.busy === 'one' ? 1 : n;
  if (tcg) return busy;
  if (n <= 1) return 1;
  const vcpus = cell.cpusPerTenant !== undefined ? cell.cpusPerTenant : (cell.overcommit * host.cpus) / n;
  return Math.max(1, (busy * vcpus) / host.cpus);
}
