// A suite's matrix: which workload is measured beside which neighbour, on which platforms, and
// which cell each cell's ratios are taken against. Expansion and scheduling are pure.
import { UsageError } from './errors.ts';
import { rng, shuffle } from './rng.ts';
import { allocationCpus, overcommitSizes, type TenancyHost } from './tenancy.ts';
import type { CapabilityName, Cell, CpuPolicy, Experiment, LimitKind, NeighbourKind, Resource, Sample } from './types.ts';

export type ActiveNeighbourKind = Exclude<NeighbourKind, 'none'>;

export interface SuiteRow {
  resource: Resource;
  workload: string;
  /** Neighbour name per kind (the study's Section 4.2 table). */
  neighbours: Partial<Record<ActiveNeighbourKind, string>>;
}

export type ReferenceAxis = NonNullable<Cell['referenceAxis']>;

/**
 * A part of a suite (one figure) whose axes expand into cells: every platform x workload x
 * cpuPolicy x memoryLimit x overcommit (or allocation tenants x busy). Each cell is compared with
 * the cell of the same group that differs only in `reference.axis`, which has `reference.value`.
 */
export interface SuiteGroup {
  /** Cell.group, e.g. 'fig9'. */
  id: string;
  platforms: string[];
  /** Workloads of the suite's rows. */
  workloads: string[];
  /** Default: the run's (--cpu-policy, or the platform's default). */
  cpuPolicy?: CpuPolicy[];
  /** Default: the run's (--memory-limit, or the platform's default). */
  memoryLimit?: LimitKind[];
  /** Limits fixed per platform (e.g. lxc soft beside kvm hard); they replace the axes for that platform. */
  limits?: Record<string, { cpuPolicy?: CpuPolicy; memoryLimit?: LimitKind }>;
  /** Overcommit factors: N = f x C / V tenants each (core/tenancy.ts). Absent: one tenant, x1. */
  overcommit?: number[];
  /** Allocation: k tenants each given C/k host CPUs, all busy or only tenant 0. */
  allocation?: { tenants: number[]; busy: ('all' | 'one')[] };
  reference?: { axis: ReferenceAxis; value: string | number };
}

export interface SuiteDefinition {
  name: string;
  description: string;
  /** The suite's workloads and their neighbours; with `groups`, the workloads the groups may measure. */
  rows: SuiteRow[];
  /** Rows without groups: 'no-neighbour': each cell against the same platform and workload alone; 'baremetal': against bare metal. */
  reference?: 'no-neighbour' | 'baremetal';
  /** Platforms in the order they appear in results; the default selection is those that run here. */
  platforms: string[];
  /** Axes per figure; when present, the cells are the groups' (rows only name the workloads). */
  groups?: SuiteGroup[];
  /** Procedures (boot storms, launches...), each cell `<platform>/<experiment>/<param>`, after the rows' cells. */
  experiments?: Experiment[];
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
  /** Groups: the host and run sizes that turn overcommit factors and allocations into tenants. */
  tenancy?: TenancyHost;
  /** Groups: the CPU policies each platform can express (undefined = all). */
  cpuPolicies?: Record<string, CpuPolicy[] | undefined>;
  /** Platforms were chosen with --platforms: a cell a platform cannot express is refused, not skipped. */
  explicitPlatforms?: boolean;
  /** Groups: overcommit factors / allocation tenant counts that replace the groups' own. */
  overcommitFactors?: number[];
  allocationTenants?: number[];
  /** Told about cells left out (a policy a platform cannot express). */
  onSkip?: (line: string) => void;
  /** Experiments: the parameters of this run per experiment name (Experiment.params); absent = none of its cells. */
  experimentParams?: Record<string, string[]>;
  /**
   * Experiments: per platform, true when it can give a guest a private image copy (Driver.copyImage),
   * else why not; cells that need copies (Experiment.imageCopies) are skipped, said once, on a
   * platform without. Absent: every platform can.
   */
  privateImages?: Record<string, true | string>;
  /**
   * Experiments: per platform, the verdicts of its capability probe (Driver.capabilities); a cell
   * whose parameter needs one that is not ok there (Experiment.needs) is skipped with the probe's
   * reason, a line each. A platform without verdicts (not probed) keeps its cells.
   */
  capabilities?: Record<string, Partial<Record<CapabilityName, { ok: boolean; reason?: string }>>>;
}

type CellKey = Omit<Cell, 'id' | 'reference' | 'group' | 'referenceAxis'>;

/** Multi-tenant cells append /t<N>, then /busy-one, then /c<cpusPerTenant>; single-tenant ids are today's. */
export function cellId(c: CellKey): string {
  const parts = [c.platform, c.workload, `${c.neighbourKind}:${c.neighbour}`, c.cpuPolicy, c.memoryLimit, `x${c.overcommit}`];
  if (c.tenants !== undefined && c.tenants > 1) parts.push(`t${c.tenants}`);
  if (c.busy === 'one') parts.push('busy-one');
  if (c.cpusPerTenant !== undefined) parts.push(`c${c.cpusPerTenant}`);
  return parts.join('/');
}

export const NEIGHBOUR_ORDER: NeighbourKind[] = ['none', 'competing', 'orthogonal', 'adversarial'];

export function expandCells(def: SuiteDefinition, sel: MatrixSelection): Cell[] {
  const experiments = experimentCells(def, sel);
  if (def.groups) return [...expandGroups(def, sel), ...experiments];
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
  return [...cells.map((c) => (c.reference && !ids.has(c.reference) ? { ...c, reference: undefined } : c)), ...experiments];
}

/**
 * An experiment's cells: per platform it applies to, one per parameter, `<platform>/<name>/<param>`
 * (three parts, no `:`: never the id of a workload cell), compared with its reference parameter's cell.
 */
function experimentCells(def: SuiteDefinition, sel: MatrixSelection): Cell[] {
  const cells: Cell[] = [];
  for (const platform of sel.platforms) {
    for (const e of def.experiments ?? []) {
      if (sel.workloads && !sel.workloads.includes(e.name)) continue;
      if (e.platforms && !e.platforms.includes(platform)) continue;
      const params = sel.experimentParams?.[e.name] ?? [];
      const limits = { cpuPolicy: sel.platformLimits?.[platform]?.cpuPolicy ?? sel.cpuPolicy, memoryLimit: sel.platformLimits?.[platform]?.memoryLimit ?? sel.memoryLimit };
      const idOf = (param: string) => `${platform}/${e.name}/${param}`;
      // cells the experiment says a platform has none of (a line each), and, on a platform without
      // private image copies, the cells that need them (one line for all of them)
      const canCopy = sel.privateImages?.[platform] ?? true;
      const needCopies = canCopy === true ? [] : params.filter((param) => (e.imageCopies?.(param) ?? 0) > 0);
      if (needCopies.length > 0) sel.onSkip?.(`skipping ${e.name} cells ${needCopies.join(', ')} on ${platform}: they need a private image per guest, and ${canCopy}`);
      const kept = params.filter((param) => {
        if (needCopies.includes(param)) return false;
        const need = e.needs?.(param);
        const verdict = need ? sel.capabilities?.[platform]?.[need] : undefined;
        const why = e.skip?.(platform, param) ?? (verdict && !verdict.ok ? `${platform} cannot ${need} here: ${verdict.reason ?? 'its probe gave no reason'}` : undefined);
        if (why) sel.onSkip?.(`${idOf(param)} skipped: ${why}`);
        return !why;
      });
      for (const param of kept) {
        if (param === '' || /[/:#\s]/.test(param)) throw new Error(`experiment ${e.name}: parameter '${param}' cannot be part of a cell id`);
        const ref = typeof e.reference === 'function' ? e.reference(param) : e.reference;
        const reference = ref !== undefined && ref !== param && kept.includes(ref) ? idOf(ref) : undefined;
        cells.push({ id: idOf(param), platform, workload: e.name, resource: e.resource, neighbourKind: 'none', neighbour: 'none', ...limits, overcommit: 1, param, ...(reference ? { reference } : {}) });
      }
    }
  }
  return cells;
}

/** A group's axis values for one platform, before sizing. */
interface Point {
  platform: string;
  workload: string;
  cpuPolicy: CpuPolicy;
  memoryLimit: LimitKind;
  overcommit: number;
  tenants?: number;
  busy?: 'all' | 'one';
  cpusPerTenant?: number;
}

function expandGroups(def: SuiteDefinition, sel: MatrixSelection): Cell[] {
  const byId = new Map<string, Cell>();
  for (const g of def.groups ?? []) {
    for (const cell of expandGroup(def, g, sel)) {
      const had = byId.get(cell.id);
      // the same measurement serves several figures: planned once, in the first group that has it
      if (!had) byId.set(cell.id, cell);
      else if (cell.reference && had.reference && had.reference !== cell.reference) throw new Error(`suite ${def.name}: cell ${cell.id} has two references (${had.reference} in ${had.group}, ${cell.reference} in ${cell.group})`);
      else if (cell.reference && !had.reference) byId.set(cell.id, { ...had, reference: cell.reference, referenceAxis: cell.referenceAxis });
    }
  }
  return [...byId.values()];
}

function expandGroup(def: SuiteDefinition, g: SuiteGroup, sel: MatrixSelection): Cell[] {
  const platforms = g.platforms.filter((p) => sel.platforms.includes(p));
  const workloads = g.workloads.filter((w) => !sel.workloads || sel.workloads.includes(w));
  const resource = (w: string) => {
    const row = def.rows.find((r) => r.workload === w);
    if (!row) throw new Error(`suite ${def.name}: group ${g.id} measures ${w}, which is not one of the suite's rows`);
    return row.resource;
  };
  const runLimits = (platform: string) => ({
    cpuPolicy: sel.platformLimits?.[platform]?.cpuPolicy ?? sel.cpuPolicy,
    memoryLimit: sel.platformLimits?.[platform]?.memoryLimit ?? sel.memoryLimit,
  });
  const policies = (platform: string) => (g.limits?.[platform]?.cpuPolicy ? [g.limits[platform].cpuPolicy] : (g.cpuPolicy ?? [runLimits(platform).cpuPolicy]));
  const memories = (platform: string) => (g.limits?.[platform]?.memoryLimit ? [g.limits[platform].memoryLimit] : (g.memoryLimit ?? [runLimits(platform).memoryLimit]));
  const host = () => {
    if (!sel.tenancy) throw new Error(`suite ${def.name}: group ${g.id} needs the host's sizes to plan tenants`);
    return sel.tenancy;
  };
  // tenant shapes per factor / per k: one sizing for the group
  type Shape = Pick<Point, 'overcommit' | 'tenants' | 'busy' | 'cpusPerTenant'>;
  let shapes: Shape[] = [{ overcommit: 1 }];
  if (g.overcommit && g.allocation) throw new Error(`suite ${def.name}: group ${g.id} has both overcommit and allocation axes`);
  if (g.overcommit) {
    const factors = sel.overcommitFactors ?? g.overcommit;
    shapes = overcommitSizes(factors, host()).map((s) => ({ overcommit: s.factor, tenants: s.tenants }));
  } else if (g.allocation) {
    const ks = sel.allocationTenants ?? g.allocation.tenants;
    shapes = ks.flatMap((k) => {
      const c = allocationCpus(k, host().cpus);
      return g.allocation!.busy.map((busy) => ({ overcommit: 1, tenants: k, cpusPerTenant: c, ...(busy === 'one' ? { busy } : {}) }));
    });
  }
  const points: Point[] = [];
  const said = new Set<string>();
  for (const platform of platforms) {
    for (const workload of workloads) {
      for (const cpuPolicy of policies(platform)) {
        const can = sel.cpuPolicies?.[platform];
        if (can && !can.includes(cpuPolicy)) {
          const why = `platform ${platform} cannot express CPU policy ${cpuPolicy} (it supports ${can.join(', ')})`;
          if (sel.explicitPlatforms) throw new UsageError(`${why}: leave it out of --platforms for suite ${def.name}`);
          const line = `skipping ${g.id} cells of ${platform} with ${cpuPolicy}: ${why}`;
          if (!said.has(line)) sel.onSkip?.(line);
          said.add(line);
          continue;
        }
        for (const memoryLimit of memories(platform)) for (const s of shapes) points.push({ platform, workload, cpuPolicy, memoryLimit, ...s });
      }
    }
  }
  const idOf = (p: Point) => cellId({ ...p, resource: resource(p.workload), neighbourKind: 'none', neighbour: 'none' });
  const ids = new Set(points.map(idOf));
  return points.map((p) => {
    const id = idOf(p);
    const cell: Cell = { id, platform: p.platform, workload: p.workload, resource: resource(p.workload), neighbourKind: 'none', neighbour: 'none', cpuPolicy: p.cpuPolicy, memoryLimit: p.memoryLimit, overcommit: p.overcommit };
    // set even when 1 (the id then stays a single-tenant one): the cell is still sized from the budget
    if (p.tenants !== undefined) cell.tenants = p.tenants;
    if (p.busy) cell.busy = p.busy;
    if (p.cpusPerTenant !== undefined) cell.cpusPerTenant = p.cpusPerTenant;
    cell.group = g.id;
    const ref = g.reference && referencePoint(p, g, points, shapes);
    // a reference that is not in the selection leaves ratios empty rather than wrong
    if (ref && idOf(ref) !== id && ids.has(idOf(ref))) {
      cell.reference = idOf(ref);
      cell.referenceAxis = g.reference!.axis;
    }
    return cell;
  });
}

/**
 * The point a cell is compared with: the same point with the reference axis at the reference value.
 * Overcommit: the factor's own tenant count (N grows with f). Platform: that platform's fixed limits.
 */
function referencePoint(p: Point, g: SuiteGroup, points: Point[], shapes: Pick<Point, 'overcommit' | 'tenants'>[]): Point | undefined {
  const { axis, value } = g.reference!;
  switch (axis) {
    case 'overcommit': {
      const s = shapes.find((x) => x.overcommit === value);
      return s ? { ...p, overcommit: s.overcommit, tenants: s.tenants } : undefined;
    }
    case 'cpuPolicy':
      return { ...p, cpuPolicy: value as CpuPolicy };
    case 'memoryLimit':
      return { ...p, memoryLimit: value as LimitKind };
    case 'platform': {
      const platform = String(value);
      // the reference platform's own limits where the group fixes them, else the same as this cell's
      const fixed = g.limits?.[platform];
      const candidate = { ...p, platform, cpuPolicy: fixed?.cpuPolicy ?? p.cpuPolicy, memoryLimit: fixed?.memoryLimit ?? p.memoryLimit };
      return points.some((q) => q.platform === platform) ? candidate : undefined;
    }
    case 'neighbour':
      return undefined;
  }
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
 * too small (the caller warns); shares and quota: every guest may use every CPU.
 */
export function cpuLayout(policy: CpuPolicy, vcpus: number, hostCpus: number, guests: number): number[][] {
  const all = Array.from({ length: hostCpus }, (_, i) => i);
  if (policy !== 'cpuset') return Array.from({ length: guests }, () => all);
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
export function sampleCellFields(cell: Cell): Pick<Sample, 'cell' | 'platform' | 'workload' | 'resource' | 'neighbourKind' | 'neighbour' | 'cpuPolicy' | 'memoryLimit' | 'overcommit' | 'reference' | 'tenants' | 'busy' | 'group' | 'cpusPerTenant' | 'param'> {
  const { platform, workload, resource, neighbourKind, neighbour, cpuPolicy, memoryLimit, overcommit, reference, tenants, busy, group, cpusPerTenant, param } = cell;
  return {
    cell: cell.id,
    platform,
    workload,
    resource,
    neighbourKind,
    neighbour,
    cpuPolicy,
    memoryLimit,
    overcommit,
    ...(reference ? { reference } : {}),
    ...(tenants !== undefined ? { tenants } : {}),
    ...(busy !== undefined ? { busy } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(cpusPerTenant !== undefined ? { cpusPerTenant } : {}),
    ...(param !== undefined ? { param } : {}),
  };
}
