// One run of a multi-tenant cell (overcommit, allocation, nested): N tenants of the cell's
// workload, sized by core/tenancy.ts, inside one arena cgroup held to the tenant memory budget M
// (drivers/arena.ts: beyond M the tenants swap to a bounded swap or are OOM-killed inside the
// arena, never the harness), all running the workload at the same time (busy 'one': tenant 0
// only, the others provisioned and idle). Each busy tenant's result is one sample per metric with
// its tenant index; a tenant the OOM killer hit is an 'error' sample that says so.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeRunDir, runArtifactsDir } from '../core/artifacts.ts';
import { errorMessage } from '../core/errors.ts';
import type { PlannedRun } from '../core/matrix.ts';
import { recordingGuest, type RecordedCommand } from '../core/recording-guest.ts';
import { tenantShapes, type TenantShape } from '../core/tenancy.ts';
import type { Calibration, Guest, GuestSpec, Metric, Profile, RawOutput, RunContext, Sample, SampleStatus } from '../core/types.ts';
import { arenaName, openArena, type OpenArena } from '../drivers/arena.ts';
import { RunMonitor } from '../monitors/sampler.ts';
import { Timeout, deadline, nextGuestId, samplesOf, writeRunArtifacts, type RunEnv } from './measure.ts';

interface TenantOutcome {
  shape: TenantShape;
  guest?: Guest;
  status: SampleStatus;
  message?: string;
  metrics: Metric[];
  raw: RawOutput[];
  oomKills?: number;
}

let arenaSaid = false;

/** One run of a cell sized for tenants; never throws for what the run does (that is the samples' status). */
export async function measureTenants(run: PlannedRun, env: RunEnv, profile: Profile, outer: AbortSignal, log: (line: string) => void): Promise<Sample[]> {
  const { suite, plan, prep, shares, rec } = env;
  const cell = run.cell;
  if (!plan.tenancy) throw new Error(`cell ${cell.id} has tenants but the plan has no tenancy sizing`);
  const shapes = tenantShapes(cell, plan.tenancy)!;
  const driver = env.registry.drivers[cell.platform]!;
  const workload = env.registry.workloads[cell.workload]!;
  const ac = new AbortController();
  const onOuter = () => ac.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  const ctx: RunContext = { ...prep, signal: ac.signal, timeoutS: profile.timeoutS, tiers: {} };
  const id = nextGuestId();
  const outcomes: TenantOutcome[] = shapes.map((shape) => ({ shape, status: 'ok', metrics: [], raw: [] }));
  const guests: Guest[] = [];
  const commands: RecordedCommand[] = [];
  let arena: OpenArena | undefined;
  let monitor: RunMonitor | undefined;
  let context: Record<string, number> | undefined;
  let runStatus: SampleStatus = 'ok';
  let runMessage: string | undefined;
  const artifacts = runArtifactsDir(cell.id, run.rep, run.warmup);
  const artifactDir = makeRunDir(rec.dir, artifacts);
  let calibration: Calibration | undefined;
  try {
    calibration = await rec.calibrate(shapes[0]!.cpus, ac.signal);
  } catch (err) {
    log(`calibration failed (${errorMessage(err)}); this run has none`);
  }
  const start = new Date();
  try {
    const demand = shapes.reduce((s, t) => s + t.memoryBytes, 0);
    // the arena's sizes and the OOM protection are said once per suite run, not before every run
    const opened = await openArena({ budgetBytes: plan.tenancy.memoryBudget, demandBytes: demand, log: arenaSaid ? () => undefined : log, name: `${arenaName()}-${id}` });
    arenaSaid = true;
    arena = opened;
    const specs: GuestSpec[] = shapes.map((t) => ({
      name: `${id}-t${t.tenant}`,
      vcpus: t.vcpus,
      cpus: t.cpus,
      cpuPolicy: cell.cpuPolicy,
      cpuShares: t.cpuShares,
      ...(t.cpuQuota !== undefined ? { cpuQuota: t.cpuQuota } : {}),
      memoryBytes: t.memoryBytes,
      memoryLimit: cell.memoryLimit,
      ioWeight: 500,
      pidsMax: profile.pidsMax,
      network: true,
      shares: shares.get(`w:${workload.name}`) ?? [],
      arena: opened.arena.name,
      tenant: t.tenant,
    }));
    if (driver.provisionTenants) {
      guests.push(...(await driver.provisionTenants(specs, ctx)));
    } else {
      for (const s of specs) guests.push(await driver.provision(s, ctx));
    }
    guests.forEach((g, i) => (outcomes[i]!.guest = g));
    // tenant 0 is the one whose commands the artifacts record; every busy tenant is set up (untimed)
    const clock = { t0: performance.now() };
    const views = guests.map((g, i) => (i === 0 ? recordingGuest(g, commands, clock) : g));
    const busy = outcomes.filter((o) => o.shape.busy);
    for (const o of busy) await deadline(workload.setup(views[o.shape.tenant]!, ctx), profile.timeoutS * 1000, () => ac.abort());
    const measured = new AbortController();
    const runCtx: RunContext = { ...ctx, signal: AbortSignal.any([ac.signal, measured.signal]) };
    if (rec.monitors) {
      const watched = guests.flatMap((g, i) => {
        const paths = g.cgroupPaths?.();
        return paths ? [{ role: i === 0 ? 'target' : `tenant${i}`, paths }] : [];
      });
      rmSync(join(artifactDir, 'monitor.jsonl'), { force: true });
      monitor = new RunMonitor(watched, join(artifactDir, 'monitor.jsonl'));
      monitor.start();
    }
    commands.length = 0;
    clock.t0 = performance.now();
    // all busy tenants at once, under one deadline: a tenant still running at it is a DNF
    const works = busy.map((o) =>
      workload.run(views[o.shape.tenant]!, runCtx).then(
        (r) => {
          o.metrics = Array.isArray(r) ? r : r.metrics;
          o.raw = Array.isArray(r) ? [] : (r.raw ?? []);
          return true;
        },
        (err: unknown) => {
          if (measured.signal.aborted && !outer.aborted) {
            o.status = 'dnf';
            o.message = `did not finish within ${profile.timeoutS} s`;
          } else {
            const timedOut = (err as { result?: { timedOut?: boolean } }).result?.timedOut === true;
            o.status = timedOut && !outer.aborted ? 'dnf' : 'error';
            o.message = errorMessage(err);
          }
          return false;
        },
      ),
    );
    const all = Promise.all(works);
    try {
      await deadline(all, profile.timeoutS * 1000, () => {
        measured.abort();
        for (const o of busy) void o.guest?.killAll().catch(() => undefined);
      });
    } catch (err) {
      if (!(err instanceof Timeout)) throw err;
      await deadline(all, 30_000, () => undefined).catch(() => undefined);
      for (const o of busy) {
        if (o.status === 'ok' && o.metrics.length === 0) {
          o.status = 'dnf';
          o.message = `did not finish within ${profile.timeoutS} s`;
        }
      }
    }
  } catch (err) {
    // provisioning, the arena or a setup failed: every tenant's run is that error
    if (err instanceof Timeout) {
      runStatus = 'error';
      runMessage = 'setup did not finish within the run timeout';
    } else {
      const timedOut = (err as { result?: { timedOut?: boolean } }).result?.timedOut === true;
      runStatus = timedOut && !outer.aborted ? 'dnf' : 'error';
      runMessage = errorMessage(err);
    }
  } finally {
    if (monitor) context = monitor.stop();
    // OOM kills are read before the guests go: an errored tenant the kernel OOM-killed says so
    for (const o of outcomes) {
      try {
        o.oomKills = await o.guest?.oomKills?.();
      } catch {
        /* no counter: nothing to say */
      }
    }
    for (const g of [...guests].reverse()) {
      try {
        await g.destroy();
      } catch (err) {
        log(`could not destroy guest ${g.name}: ${errorMessage(err)}`);
      }
    }
    if (arena) {
      try {
        await arena.close();
      } catch (err) {
        log(`could not remove the arena of ${cell.id}: ${errorMessage(err)}`);
      }
    }
    outer.removeEventListener('abort', onOuter);
  }
  const end = new Date();
  const accel = guests[0]?.accel ?? 'native';
  for (const o of outcomes) {
    if (runStatus !== 'ok') {
      o.status = runStatus;
      o.message = runMessage;
    }
    if (o.status === 'error' && (o.oomKills ?? 0) > 0) o.message = `OOM-killed inside the arena (${o.oomKills} kill(s) in tenant ${o.shape.tenant}'s guest): ${o.message ?? ''}`.trimEnd();
  }
  const busy = outcomes.filter((o) => o.shape.busy);
  const t0 = busy[0];
  try {
    const raw = busy.flatMap((o) => o.raw.map((f) => ({ name: `t${o.shape.tenant}-${f.name}`, text: f.text })));
    writeRunArtifacts(artifactDir, { cell, run, driver: driver.name, target: guests[0], commands, raw, calibration, context, status: t0?.status ?? runStatus, message: t0?.message ?? runMessage, start, end });
  } catch (err) {
    log(`could not write the artifacts of ${cell.id} rep ${run.rep}: ${errorMessage(err)}`);
  }
  return busy.flatMap((o) =>
    samplesOf(workload.metrics, o.metrics, {
      suite,
      cell,
      run,
      status: o.status,
      message: o.message,
      accel,
      vcpus: o.shape.vcpus,
      memoryBytes: o.shape.memoryBytes,
      start,
      end,
      guest: o.guest,
      calibration,
      context,
      guestMitigations: rec.guestMitigations,
      artifacts,
      extra: { tenant: o.shape.tenant, ...(o.oomKills !== undefined ? { oomKills: o.oomKills } : {}) },
    }),
  );
}
