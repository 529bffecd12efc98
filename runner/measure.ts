// One measured run: fresh guests -> workload setup -> neighbour start -> measured run (timeout =
// DNF) -> neighbour stop -> guests destroyed (also on failure and on abort), then its samples (one
// per metric) and its artifacts (command.json, raw output, run.json) in the result directory.
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { COMMAND_CAP, RAW_CAP, makeRunDir, runArtifactsDir, writeArtifact } from '../core/artifacts.ts';
import { errorMessage } from '../core/errors.ts';
import { cpuLayout, sampleCellFields, type PlannedRun } from '../core/matrix.ts';
import { recordingGuest, type RecordedCommand } from '../core/recording-guest.ts';
import type { Calibration, Cell, Guest, GuestSpec, Metric, PrepareContext, Profile, RawOutput, RunContext, RunningNeighbour, Sample, SampleStatus, Share, Workload } from '../core/types.ts';
import { cpuSplit, parseProcStat, type ProcStat } from '../monitors/proc.ts';
import { RunMonitor } from '../monitors/sampler.ts';
import { tenantShapes } from '../core/tenancy.ts';
import type { Plan } from './plan.ts';
import { measureExperiment } from './experiment.ts';
import { measureTenants } from './tenants.ts';
import type { Registry } from './registry.ts';

/** Grace after the measured run's timeout before a neighbour is killed from outside regardless. */
const NEIGHBOUR_DEADLINE_GRACE_S = 120;

/** What every measured run records beside its metrics (calibration, monitors, artifacts). */
export interface RunRecording {
  /** The result directory: artifacts go to its runs/<cell>#<rep>/. */
  dir: string;
  monitors: boolean;
  /** VM platforms: the guest kernel's mitigation setting (label). */
  guestMitigations: string;
  /** Times the host's speed on the measured guest's CPUs just before the run (monitors/calibration.ts). */
  calibrate: (cpus: number[], signal: AbortSignal) => Promise<Calibration>;
}

/** What all runs of one suite run share. */
export interface RunEnv {
  suite: string;
  plan: Pick<Plan, 'vcpus' | 'memoryBytes' | 'tenancy'>;
  prep: PrepareContext;
  /** Host-side shares the workloads' and neighbours' prepareHost made, by `w:<name>` and `n:<name>`. */
  shares: Map<string, Share[]>;
  registry: Registry;
  rec: RunRecording;
}

export function specFor(name: string, plan: RunEnv['plan'], profile: Profile, cpuList: number[], cell: Cell, shares: Share[]): GuestSpec {
  return {
    name,
    vcpus: plan.vcpus,
    cpus: cpuList,
    cpuPolicy: cell.cpuPolicy,
    cpuShares: 1024,
    memoryBytes: plan.memoryBytes,
    memoryLimit: cell.memoryLimit,
    ioWeight: 500,
    pidsMax: profile.pidsMax,
    network: true,
    shares,
  };
}

export class Timeout extends Error {}

export function deadline<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Timeout());
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

let guestCounter = 0;

/** A name prefix no other guest of this harness process has. */
export function nextGuestId(): string {
  return `vb${++guestCounter}-${process.pid % 10000}`;
}

/** The guest's aggregate /proc/stat through its own transport (VM guests: the agent), or undefined. */
async function guestProcStat(g: Guest): Promise<ProcStat | undefined> {
  try {
    const r = await g.sh('head -1 /proc/stat', { timeoutMs: 10_000, check: false });
    return r.exitCode === 0 ? parseProcStat(r.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** One run of `run.cell` under `profile`; `outer` aborts it (Ctrl-C). Never throws for what a run does: that is its samples' status. */
export async function measure(run: PlannedRun, env: RunEnv, profile: Profile, outer: AbortSignal, log: (line: string) => void): Promise<Sample[]> {
  // an experiment's procedure provisions its own guests: runner/experiment.ts
  if (run.cell.param !== undefined) return measureExperiment(run, env, profile, outer, log);
  // cells sized for tenants (overcommit, allocation, nested) run in an arena: runner/tenants.ts
  if (env.plan.tenancy && tenantShapes(run.cell, env.plan.tenancy)) return measureTenants(run, env, profile, outer, log);
  const { suite, plan, prep, shares, rec } = env;
  const cell = run.cell;
  const driver = env.registry.drivers[cell.platform]!;
  const workload = env.registry.workloads[cell.workload]!;
  const neighbour = cell.neighbour === 'none' ? undefined : env.registry.neighbours[cell.neighbour]!;
  const ac = new AbortController();
  const onOuter = () => ac.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  const ctx: RunContext = { ...prep, signal: ac.signal, timeoutS: profile.timeoutS, tiers: {} };
  // guest order for pinning: target, neighbour, then the workload's other tiers
  const layout = cpuLayout(cell.cpuPolicy, plan.vcpus, cpus().length, 2 + (workload.tiers?.length ?? 0));
  const id = nextGuestId();
  const guests: Guest[] = [];
  let target: Guest | undefined;
  let running: RunningNeighbour | undefined;
  let neighbourTimer: NodeJS.Timeout | undefined;
  let status: SampleStatus = 'ok';
  let message: string | undefined;
  let metrics: Metric[] = [];
  let neighbourDetail: Record<string, number | string> | undefined;
  let raw: RawOutput[] = [];
  const commands: RecordedCommand[] = [];
  let monitor: RunMonitor | undefined;
  let context: Record<string, number> | undefined;
  let stealStart: ProcStat | undefined;
  const artifacts = runArtifactsDir(cell.id, run.rep, run.warmup);
  const artifactDir = makeRunDir(rec.dir, artifacts);
  // the host's speed just before the run, on the CPUs the measured guest gets
  let calibration: Calibration | undefined;
  try {
    calibration = await rec.calibrate(layout[0]!, ac.signal);
  } catch (err) {
    log(`calibration failed (${errorMessage(err)}); this run has none`);
  }
  const start = new Date();
  try {
    target = await driver.provision(specFor(`${id}-target`, plan, profile, layout[0]!, cell, shares.get(`w:${workload.name}`) ?? []), ctx);
    guests.push(target);
    const tg = target;
    for (const [i, tier] of (workload.tiers ?? []).entries()) {
      const g = await driver.provision(specFor(`${id}-${tier}`, plan, profile, layout[2 + i]!, cell, shares.get(`w:${workload.name}`) ?? []), ctx);
      guests.push(g);
      ctx.tiers[tier] = g;
    }
    // one recording view of the target for setup and run (workloads key their state by the guest object)
    const clock = { t0: performance.now() };
    const seen = recordingGuest(tg, commands, clock);
    await deadline(workload.setup(seen, ctx), profile.timeoutS * 1000, () => ac.abort());
    if (neighbour) {
      const ng = await driver.provision(specFor(`${id}-${neighbour.name}`, plan, profile, layout[1]!, cell, shares.get(`n:${neighbour.name}`) ?? []), ctx);
      guests.push(ng);
      await deadline(neighbour.setup(ng, ctx), profile.timeoutS * 1000, () => ac.abort());
      running = await deadline(neighbour.start(ng, ctx), 60_000, () => ac.abort());
      // bounded from outside: whatever the neighbour does, it is killed at this deadline
      neighbourTimer = setTimeout(() => void ng.killAll().catch(() => undefined), (profile.timeoutS + NEIGHBOUR_DEADLINE_GRACE_S) * 1000);
    }
    const measured = new AbortController();
    const runCtx: RunContext = { ...ctx, signal: AbortSignal.any([ac.signal, measured.signal]) };
    if (rec.monitors) {
      const watched = guests.flatMap((g, i) => {
        const paths = g.cgroupPaths?.();
        const role = g === tg ? 'target' : neighbour && i === guests.length - 1 ? 'neighbour' : (Object.entries(ctx.tiers).find(([, t]) => t === g)?.[0] ?? `guest${i}`);
        return paths ? [{ role, paths }] : [];
      });
      if (tg.accel !== 'native') stealStart = await guestProcStat(tg);
      // a resumed run replaces what an interrupted attempt of it left
      rmSync(join(artifactDir, 'monitor.jsonl'), { force: true });
      monitor = new RunMonitor(watched, join(artifactDir, 'monitor.jsonl'));
      monitor.start();
    }
    // command.json holds the measured part only
    commands.length = 0;
    clock.t0 = performance.now();
    const work = workload.run(seen, runCtx);
    try {
      const result = await deadline(work, profile.timeoutS * 1000, () => {
        measured.abort();
        void tg.killAll().catch(() => undefined);
      });
      metrics = Array.isArray(result) ? result : result.metrics;
      raw = Array.isArray(result) ? [] : (result.raw ?? []);
    } catch (err) {
      if (!(err instanceof Timeout)) throw err;
      status = 'dnf';
      message = `did not finish within ${profile.timeoutS} s`;
      await deadline(work.catch(() => undefined), 30_000, () => undefined).catch(() => undefined);
    }
  } catch (err) {
    if (err instanceof Timeout) {
      status = 'error';
      message = 'setup did not finish within the run timeout';
    } else {
      const timedOut = (err as { result?: { timedOut?: boolean } }).result?.timedOut === true;
      status = timedOut && !outer.aborted ? 'dnf' : 'error';
      message = errorMessage(err);
    }
  } finally {
    if (monitor) {
      context = monitor.stop();
      if (stealStart && target) {
        const end = await guestProcStat(target);
        const split = end ? cpuSplit(stealStart, end) : undefined;
        if (split && Number.isFinite(split.stealPct)) context.vm_steal_pct = Math.round(split.stealPct * 1000) / 1000;
      }
    }
    if (neighbourTimer) clearTimeout(neighbourTimer);
    if (running) {
      try {
        neighbourDetail = (await running.stop()).detail;
      } catch (err) {
        log(`neighbour ${cell.neighbour} did not stop cleanly: ${errorMessage(err)}`);
      }
    }
    for (const g of guests.reverse()) {
      try {
        await g.destroy();
      } catch (err) {
        log(`could not destroy guest ${g.name}: ${errorMessage(err)}`);
      }
    }
    outer.removeEventListener('abort', onOuter);
  }
  const end = new Date();
  const accel = target?.accel ?? 'native';
  try {
    writeRunArtifacts(artifactDir, { cell, run, driver: driver.name, target, commands, raw, calibration, context, status, message, start, end });
  } catch (err) {
    log(`could not write the artifacts of ${cell.id} rep ${run.rep}: ${errorMessage(err)}`);
  }
  return samplesOf(workload.metrics, metrics, {
    suite,
    cell,
    run,
    status,
    message,
    accel,
    vcpus: plan.vcpus,
    memoryBytes: plan.memoryBytes,
    start,
    end,
    guest: target,
    calibration,
    context,
    guestMitigations: rec.guestMitigations,
    artifacts,
    extra: { neighbourDetail },
  });
}

/** What one run's samples share, whatever the workload measured. */
export interface RunOutcome {
  suite: string;
  cell: Cell;
  run: PlannedRun;
  status: SampleStatus;
  message?: string;
  accel: Sample['accel'];
  vcpus: number;
  memoryBytes: number;
  start: Date;
  end: Date;
  /** The guest the metrics are of (its launch time goes into the samples). */
  guest?: Guest;
  calibration?: Calibration;
  context?: Record<string, number>;
  guestMitigations: string;
  artifacts: string;
  /** Fields only some runs have (a neighbour's detail, a tenant's index and OOM kills). */
  extra?: Partial<Sample>;
}

/**
 * One sample per metric the workload declares: its value where the run was ok and the workload
 * gave a finite one, else null; an ok run that is missing a metric is an error for that metric.
 */
export function samplesOf(declared: Workload['metrics'], got: Metric[], o: RunOutcome): Sample[] {
  return declared.map((m) => {
    const value = got.find((x) => x.metric === m.metric);
    const missing = o.status === 'ok' && (value === undefined || !Number.isFinite(value.value));
    return {
      suite: o.suite,
      ...sampleCellFields(o.cell),
      ...o.extra,
      rep: o.run.rep,
      warmup: o.run.warmup,
      metric: m.metric,
      value: o.status === 'ok' && !missing ? value!.value : null,
      unit: m.unit,
      better: m.better,
      status: missing ? 'error' : o.status,
      message: missing ? `workload returned no value for ${m.metric}` : o.message,
      accel: o.accel,
      vcpus: o.vcpus,
      memoryBytes: o.memoryBytes,
      start: o.start.toISOString(),
      end: o.end.toISOString(),
      ...(value?.note ? { note: value.note } : {}),
      ...(o.guest?.bootSeconds !== undefined ? { bootSeconds: Math.round(o.guest.bootSeconds * 1000) / 1000 } : {}),
      ...(o.calibration ? { calibration: o.calibration } : {}),
      ...(o.context && Object.keys(o.context).length ? { context: o.context } : {}),
      ...(o.accel !== 'native' ? { guestMitigations: o.guestMitigations } : {}),
      artifacts: o.artifacts,
    };
  });
}

/** command.json, the workload's raw output files and run.json (what the samples say, in one place). */
export function writeRunArtifacts(
  dir: string,
  r: {
    cell: Cell;
    run: PlannedRun;
    driver: string;
    target?: Guest;
    commands: RecordedCommand[];
    raw: RawOutput[];
    calibration?: Calibration;
    context?: Record<string, number>;
    status: SampleStatus;
    message?: string;
    start: Date;
    end: Date;
  },
): void {
  const command = {
    note: 'every command the workload gave the measured guest during the timed part, with the environment each started with (the guest environment plus the call\'s own)',
    platform: r.driver,
    guest: r.target?.name,
    guestEnvironment: r.target?.environment ?? null,
    commands: r.commands,
  };
  writeArtifact(dir, 'command.json', JSON.stringify(command, null, 2) + '\n', COMMAND_CAP);
  for (const f of r.raw) writeArtifact(dir, f.name, f.text, RAW_CAP);
  const summary = {
    cell: r.cell.id,
    rep: r.run.rep,
    warmup: r.run.warmup,
    status: r.status,
    ...(r.message ? { message: r.message } : {}),
    start: r.start.toISOString(),
    end: r.end.toISOString(),
    calibration: r.calibration ?? null,
    context: r.context ?? null,
    files: ['command.json', ...r.raw.map((f) => f.name), ...(r.context ? ['monitor.jsonl'] : [])],
  };
  writeArtifact(dir, 'run.json', JSON.stringify(summary, null, 2) + '\n', COMMAND_CAP);
}
