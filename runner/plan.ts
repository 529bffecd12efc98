// Planning: the cells and their seeded interleaved runs, the platforms that can run here, the host
// packages a run needs, and how long it will take (estimates, TCG's slowdown, --reps auto's cap).
import { cpus, totalmem } from 'node:os';
import { ADAPTIVE_DEFAULTS, repCap } from '../analysis/adaptive.ts';
import { UnavailableError, UsageError } from '../core/errors.ts';
import { hostTenancy } from '../core/host.ts';
import { expandCells, fitToHost, runKey, schedule, type MatrixSelection, type PlannedRun, type SuiteDefinition } from '../core/matrix.ts';
import type { RunOptions } from '../core/options.ts';
import { formatDuration } from '../core/progress.ts';
import { tenancyLoad, tenantShapes, type TenancyHost } from '../core/tenancy.ts';
import type { Accel, Cell, Driver, Profile, ProfileName, Workload } from '../core/types.ts';
import type { Io } from './io.ts';
import type { Registry } from './registry.ts';
import { PROFILES } from '../core/profiles.ts';
import type { ShardRecord } from '../core/shard.ts';
import { shardLines, shardPlan } from './shard-plan.ts';

const GiB = 1024 ** 3;
/** Seconds a guest pair costs beyond the workload (provision, destroy), for estimates. */
const GUEST_OVERHEAD_S = 3;
/** --reps auto: run time a cell may spend in all, by profile (smoke is for CI: minutes, not half an hour). */
export const AUTO_BUDGET_S: Record<string, number> = { smoke: 240, quick: 1800, paper: 7200 };
/**
 * TCG emulates every guest instruction (the smoke kernel compile ran ~65x slower than natively
 * here). The run timeout exists to catch hangs, not to cut slow emulation short, so for guests
 * under TCG it is this many times the profile's unless --timeout was given; estimates likewise.
 */
export const TCG_SLOWDOWN = 10;

export function estimateRunS(cell: Cell, profile: Profile, reg: Registry, accel: Record<string, Accel> = {}): number {
  const tcg = accel[cell.platform] === 'tcg';
  const experiment = cell.param !== undefined ? reg.experiments?.[cell.workload] : undefined;
  if (experiment) return experiment.estimateS(cell.param!, profile.name) * (tcg ? TCG_SLOWDOWN : 1);
  const w = reg.workloads[cell.workload]?.estimatedSeconds?.[profile.name] ?? 60;
  // tenants share the host: N busy tenants under TCG cost about N times, natively f times
  const guests = (cell.tenants ?? 1) + (cell.neighbour === 'none' ? 0 : 1);
  return (w * tenancyLoad(cell, { cpus: cpus().length }, tcg) + GUEST_OVERHEAD_S * guests) * (tcg ? TCG_SLOWDOWN : 1);
}

/** The profile a platform's runs use: under TCG, a longer run timeout unless --timeout was given. */
export function platformProfile(profile: Profile, accel: Accel, timeoutChosen: boolean): Profile {
  return accel === 'tcg' && !timeoutChosen ? { ...profile, timeoutS: profile.timeoutS * TCG_SLOWDOWN } : profile;
}

export interface Plan {
  cells: Cell[];
  runs: PlannedRun[];
  vcpus: number;
  memoryBytes: number;
  adjustments: string[];
  guestsPerRun: number;
  /** Suites with groups: the host and budget multi-tenant cells are sized from (core/tenancy.ts tenantShapes). */
  tenancy?: TenancyHost;
  /** --shard i/N: the whole plan's split and this shard's part of it (cells and runs above are this shard's). */
  shard?: ShardRecord;
}

export function makePlan(def: SuiteDefinition, opts: RunOptions, platforms: string[], reg: Registry, io: Pick<Io, 'err'>, capabilities?: MatrixSelection['capabilities']): Plan {
  const tenancy = def.groups ? hostTenancy(opts) : undefined;
  // experiments' parameters (e.g. a storm's guest counts) from the profile and what one guest of this run gets
  const experimentNotes: string[] = [];
  const experimentParams: Record<string, string[]> = {};
  for (const e of def.experiments ?? []) {
    const p = e.params({ profile: opts.profile, memoryBytes: fitToHost(opts, 1, cpus().length, totalmem()).memoryBytes, hostMemoryBytes: totalmem(), ...(opts.stormSizes ? { stormSizes: opts.stormSizes } : {}), ...(opts.stormImages ? { stormImages: opts.stormImages } : {}) });
    experimentParams[e.name] = p.params;
    if (p.note && (!opts.workloads || opts.workloads.includes(e.name))) experimentNotes.push(p.note);
  }
  const cells = expandCells(def, {
    experimentParams,
    ...(capabilities ? { capabilities } : {}),
    privateImages: Object.fromEntries(platforms.map((p) => [p, reg.drivers[p]?.copyImage ? true : (reg.drivers[p]?.noPrivateImage ?? `the ${p} driver makes no private image copies`)])),
    tenancy,
    cpuPolicies: Object.fromEntries(platforms.map((p) => [p, reg.drivers[p]?.cpuPolicies])),
    explicitPlatforms: opts.platforms !== undefined,
    overcommitFactors: opts.overcommit,
    allocationTenants: opts.tenants,
    onSkip: io.err,
    platforms,
    workloads: opts.workloads,
    neighbours: opts.neighbours,
    cpuPolicy: opts.cpuPolicy,
    memoryLimit: opts.memoryLimit,
    platformLimits: Object.fromEntries(
      platforms.map((p) => {
        const d = reg.drivers[p]?.defaultLimits;
        return [p, { cpuPolicy: opts.cpuPolicyChosen ? undefined : d?.cpuPolicy, memoryLimit: opts.memoryLimitChosen ? undefined : d?.memoryLimit }];
      }),
    ),
    overcommit: 1,
  });
  if (cells.length === 0) throw new UsageError('the selection leaves no cell to run; check --workloads and --neighbours');
  const guestsPerRun = Math.max(...cells.map((c) => 1 + (c.neighbour === 'none' ? 0 : 1) + (reg.workloads[c.workload]?.tiers?.length ?? 0)));
  const fit = fitToHost(opts, guestsPerRun, cpus().length, totalmem());
  const plan: Plan = { cells, runs: schedule(cells, opts.reps, opts.warmup, opts.seed), guestsPerRun, ...fit, adjustments: [...fit.adjustments, ...experimentNotes], ...(tenancy ? { tenancy } : {}) };
  // the split is balanced on native estimates: every host of a class computes it alike, whatever its probe found
  return opts.shard ? shardPlan(plan, opts.shard, (c) => estimateRunS(c, PROFILES[opts.profile], reg) * (opts.reps + opts.warmup)) : plan;
}

export function printPlan(plan: Plan, profile: Profile, done: Set<string>, io: Io, reg: Registry, accel: Record<string, Accel> = {}): void {
  const todo = plan.runs.filter((r) => !done.has(runKey(r.cell.id, r.rep, r.warmup)));
  const already = plan.runs.length - todo.length;
  const est = todo.reduce((s, r) => s + estimateRunS(r.cell, profile, reg, accel), 0);
  io.out(`profile ${profile.name}: ${plan.vcpus} vCPU(s) and ${(plan.memoryBytes / GiB).toFixed(2)} GiB per guest, ${profile.reps} reps + ${profile.warmup} warm-up per cell`);
  for (const a of plan.adjustments) io.out(`note: ${a}`);
  const t = plan.tenancy;
  if (t) io.out(`tenants: memory budget M ${(t.memoryBudget / GiB).toFixed(2)} GiB (the arena's limit) on ${t.cpus} host CPUs, ${(t.memoryBytes / GiB).toFixed(2)} GiB memory, ${(t.swapBytes / GiB).toFixed(2)} GiB swap${t.swapSource === 'bounded' ? ' (a bounded swap the run provides: the host has less)' : ''}`);
  io.out(`${plan.cells.length} cells:`);
  for (const c of plan.cells) {
    const shapes = t ? tenantShapes(c, t) : undefined;
    const s0 = shapes?.[0];
    const size = s0 ? `   [${shapes.length} tenant${shapes.length > 1 ? 's' : ''}${c.busy === 'one' ? ' (1 busy)' : ''} x ${s0.vcpus} vCPU ${(s0.memoryBytes / GiB).toFixed(2)} GiB${s0.cpuQuota !== undefined ? `, quota ${+(s0.cpuQuota * s0.vcpus).toFixed(2)} CPU` : ''}; cpus ${shapes.map((x) => x.cpus.join(',')).join(' | ')}]` : '';
    io.out(`  ${c.id}${c.reference ? `   (vs ${c.reference})` : ''}${size}`);
  }
  io.out(`${todo.length} runs${already ? ` (${already} already done)` : ''}, estimated ${formatDuration(est)}`);
  for (const line of shardLines(plan)) io.out(line);
}

/** --reps auto in a dry run: how many more runs the adaptive rounds may add at most. */
export function printAutoEstimate(plan: Plan, opts: RunOptions, profile: Profile, io: Io, reg: Registry, accel: Record<string, Accel>): void {
  const budgetS = AUTO_BUDGET_S[opts.profile];
  const caps = plan.cells.map((c) => repCap(estimateRunS(c, profile, reg, accel), { minReps: opts.reps, budgetS }));
  const most = plan.cells.reduce((s, c, i) => s + (caps[i]! - opts.reps) * estimateRunS(c, profile, reg, accel), 0);
  io.out(
    `reps auto: ${opts.reps} interleaved reps per cell first, then more rounds of the cells whose CoV is above ${ADAPTIVE_DEFAULTS.cvThreshold * 100}% ` +
      `or that have a value beyond ${ADAPTIVE_DEFAULTS.outlierSd} sd, up to ${Math.min(...caps) === Math.max(...caps) ? caps[0] : `${Math.min(...caps)}-${Math.max(...caps)}`} reps per cell ` +
      `(${formatDuration(budgetS ?? ADAPTIVE_DEFAULTS.budgetS)} of runs per cell at most): up to ${formatDuration(most)} more`,
  );
}

/**
 * Every host package a run of these platforms, workloads and neighbours needs: the drivers' own,
 * the workloads' host-side ones, and where guests are host processes (bare metal) the workloads'
 * guest packages too.
 */
export function hostPackagesFor(drivers: Pick<Driver, 'hostPackages' | 'guestIsHost'>[], work: Pick<Workload, 'hostPackages' | 'guestPackages'>[]): string[] {
  const all = [...drivers.flatMap((d) => d.hostPackages), ...work.flatMap((w) => w.hostPackages ?? [])];
  if (drivers.some((d) => d.guestIsHost)) all.push(...work.flatMap((w) => w.guestPackages));
  return [...new Set(all)];
}

/**
 * The platforms that can run here, and the accelerator each one's probe found (for estimates and
 * timeouts). `installable` (dry runs): a platform whose probe fails while it has host packages to
 * install is kept, said so, and estimated as native: the real run installs them before probing.
 * `noBoot` (dry runs beside a running suite): why no probe may boot a guest.
 */
export async function probeAll(drivers: Driver[], explicit: boolean, io: Io, profile: ProfileName, installable?: (d: Driver) => Promise<string[]>, noBoot?: string): Promise<{ ok: Driver[]; accel: Record<string, Accel> }> {
  const ok: Driver[] = [];
  const accel: Record<string, Accel> = {};
  for (const d of drivers) {
    const p = await d.probe(profile, noBoot ? { noBoot } : undefined);
    const toInstall = p.ok || !installable ? [] : await installable(d);
    if (p.ok) {
      ok.push(d);
      accel[d.name] = p.accel ?? 'native';
    } else if (toInstall.length > 0) {
      ok.push(d);
      accel[d.name] = 'native';
      io.err(`platform ${d.name} cannot run yet (${p.reason}): the real run installs ${toInstall.join(', ')} first and probes it then; estimated as native`);
    } else if (explicit) throw new UnavailableError(`platform ${d.name} cannot run here: ${p.reason}`);
    else io.err(`skipping platform ${d.name}: ${p.reason}`);
  }
  if (ok.length === 0) throw new UnavailableError(`no platform of this suite can run here (${drivers.map((d) => d.name).join(', ')})`);
  return { ok, accel };
}
