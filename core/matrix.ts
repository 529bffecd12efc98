// A suite's matrix: which workload is measured beside which neighbour, on which platforms, and
// which cell each cell's ratios are taken against. Expansion and scheduling are pure.
import { rng, shuffle } from './rng.ts';
import type { Cell, CpuPolicy, LimitKind, NeighbourKind, Resource, Sample } from './types.ts';

export type ActiveNeighbourKind = Exclude<NeighbourKind, 'none'>;

export interface SuiteRow {
  resource: Resource;
  workload: string;
  /** Neighbour name per kind (the study's Section 4.2 table). */
  neighbours: Partial<Record<ActiveNeighbourKind, string>>;
}

export interface SuiteDefinition {
  name: string;
  description: string;
  rows: SuiteRow[];
  /** 'no-neighbour': each cell against the same platform and workload alone; 'baremetal': against bare metal. */
  reference: 'no-neighbour' | 'baremetal';
  /** Platforms in the order they appear in results; the default selection is those that run here. */
  platforms: string[];
}

export interface MatrixSelection {
  platforms: string[];
  workloads?: string[];
  /** Neighbour kinds or names to include; reference cells are always included. */
  neighbours?: string[];
  cpuPolicy: CpuPolicy;
  memoryLimit: LimitKind;
  /** Platforms whose own default limits replace cpuPolicy / memoryLimit (lxcvm: soft). */
  platformLimits?: Record<string, { cpuPolicy?: CpuPolicy; memoryLimit?: LimitKind }>;
  overcommit: number;
}

export function cellId(c: Omit<Cell, 'id' | 'reference'>): string {
  return [c.platform, c.workload, `${c.neighbourKind}:${c.neighbour}`, c.cpuPolicy, c.memoryLimit, `x${c.overcommit}`].join('/');
}

export const NEIGHBOUR_ORDER: NeighbourKind[] = ['none', 'competing', 'orthogonal', 'adversarial'];

export function expandCells(def: SuiteDefinition, sel: MatrixSelection): Cell[] {
  const cells: Cell[] = [];
  const limits = (platform: string) => ({
    cpuPolicy: sel.platformLimits?.[platform]?.cpuPolicy ?? sel.cpuPolicy,
    memoryLimit: sel.platformLimits?.[platform]?.memoryLimit ?? sel.memoryLimit,
  });
  // a bare-metal reference cell has bare metal's limits, whatever the compared platform's
  const bare = { platform: 'baremetal', ...limits('baremetal') };
  for (const platform of sel.platforms) {
    for (const row of def.rows) {
      if (sel.workloads && !sel.workloads.includes(row.workload)) continue;
      const base = { platform, workload: row.workload, resource: row.resource, ...limits(platform), overcommit: sel.overcommit };
      const none = { ...base, neighbourKind: 'none' as const, neighbour: 'none' };
      const noneId = cellId(none);
      const refOfNone = def.reference === 'baremetal' && platform !== 'baremetal' ? cellId({ ...none, ...bare }) : undefined;
      cells.push({ ...none, id: noneId, reference: refOfNone });
      for (const kind of NEIGHBOUR_ORDER) {
        if (kind === 'none') continue;
        const neighbour = row.neighbours[kind];
        if (!neighbour) continue;
        if (sel.neighbours && !sel.neighbours.includes(kind) && !sel.neighbours.includes(neighbour)) continue;
        const c = { ...base, neighbourKind: kind, neighbour };
        const reference = def.reference === 'no-neighbour' ? noneId : platform === 'baremetal' ? undefined : cellId({ ...c, ...bare });
        cells.push({ ...c, id: cellId(c), reference });
      }
    }
  }
  // A 'baremetal' reference that is not in the selection leaves ratios empty rather than wrong.
  const ids = new Set(cells.map((c) => c.id));
  return cells.map((c) => (c.reference && !ids.has(c.reference) ? { ...c, reference: undefined } : c));
}

export interface PlannedRun {
  index: number;
  cell: Cell;
  /** 1-based within its kind (warm-up or measured). */
  rep: number;
  warmup: boolean;
}

export function runKey(cellId: string, rep: number, warmup: boolean): string {
  return `${cellId}#${warmup ? 'w' : ''}${rep}`;
}

/**
 * Rounds of every cell, each round in its own seeded random order, warm-up rounds first: drift of
 * the host over the run (thermal, other tenants) spreads over all cells instead of biasing some.
 */
export function schedule(cells: Cell[], reps: number, warmup: number, seed: number): PlannedRun[] {
  const next = rng(seed);
  const runs: PlannedRun[] = [];
  for (let round = 0; round < warmup + reps; round++) {
    const isWarm = round < warmup;
    for (const cell of shuffle(cells, next)) {
      runs.push({ index: runs.length, cell, rep: isWarm ? round + 1 : round - warmup + 1, warmup: isWarm });
    }
  }
  return runs;
}

/**
 * Host CPUs per guest. cpuset: consecutive exclusive blocks of `vcpus`, wrapping when the host is
 * too small (the caller warns); shares: every guest may use every CPU.
 */
export function cpuLayout(policy: CpuPolicy, vcpus: number, hostCpus: number, guests: number): number[][] {
  const all = Array.from({ length: hostCpus }, (_, i) => i);
  if (policy === 'shares') return Array.from({ length: guests }, () => all);
  return Array.from({ length: guests }, (_, g) => Array.from({ length: vcpus }, (_, i) => (g * vcpus + i) % hostCpus));
}

/** What the harness adjusts so that every guest of a run fits the host (the study's equal-size rule). */
export function fitToHost(o: { vcpus: number; memoryBytes: number; cpuPolicy: CpuPolicy }, guestsPerRun: number, hostCpus: number, hostMem: number) {
  const adjustments: string[] = [];
  let { vcpus, memoryBytes } = o;
  if (o.cpuPolicy === 'cpuset' && vcpus * guestsPerRun > hostCpus) {
    const fit = Math.max(1, Math.floor(hostCpus / guestsPerRun));
    if (fit !== vcpus) adjustments.push(`vCPUs per guest reduced from ${vcpus} to ${fit} so that ${guestsPerRun} pinned guests fit on ${hostCpus} host CPUs`);
    vcpus = fit;
  }
  const memCap = Math.floor((hostMem * 0.75) / guestsPerRun / (64 * 1024 ** 2)) * 64 * 1024 ** 2;
  if (memoryBytes > memCap) {
    adjustments.push(`memory per guest reduced from ${(memoryBytes / 1024 ** 3).toFixed(2)} GiB to ${(memCap / 1024 ** 3).toFixed(2)} GiB so that ${guestsPerRun} guests fit in 3/4 of host memory`);
    memoryBytes = memCap;
  }
  return { vcpus, memoryBytes, adjustments };
}


/** The fields of a Sample that say which cell it belongs to (reference only where the cell has one). */
export function sampleCellFields(cell: Cell): Pick<Sample, 'cell' | 'platform' | 'workload' | 'resource' | 'neighbourKind' | 'neighbour' | 'cpuPolicy' | 'memoryLimit' | 'overcommit' | 'reference'> {
  const { platform, workload, resource, neighbourKind, neighbour, cpuPolicy, memoryLimit, overcommit, reference } = cell;
  return { cell: cell.id, platform, workload, resource, neighbourKind, neighbour, cpuPolicy, memoryLimit, overcommit, ...(reference ? { reference } : {}) };
}
