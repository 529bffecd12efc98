// One run of an experiment cell: the experiment's procedure gets the run's context and provisions
// its own guests through a GuestPool (each on the cell's platform, of the run's size), measures and
// returns values; the runner bounds it by the run timeout (past it: DNF), destroys every guest it
// provisioned (also on failure and abort), and writes its samples (one per value; a value it did
// not return is an error naming it) and artifacts as for a workload's run.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { execa } from 'execa';
import { join } from 'node:path';
import { STATE_DIR } from '../core/host.ts';
import { makeRunDir, runArtifactsDir } from '../core/artifacts.ts';
import { errorMessage } from '../core/errors.ts';
import { cpuLayout, sampleCellFields, type PlannedRun } from '../core/matrix.ts';
import { recordingGuest, type RecordedCommand } from '../core/recording-guest.ts';
import type { Calibration, Capabilities, Driver, ExperimentContext, ExperimentMetric, Profile, ProfileName, RawOutput, Sample, SampleStatus } from '../core/types.ts';
import { GuestPool } from './guest-pool.ts';
import { Timeout, deadline, nextGuestId, specFor, writeRunArtifacts, type RunEnv } from './measure.ts';

/** How long the runner waits for a procedure to notice its abort after the run timeout, before cleaning up under it. */
const SETTLE_MS = 30_000;

/** Checkpoints an experiment takes live here during its run (removed after it; swept after a killed run). */
export const CHECKPOINTS_DIR = join(STATE_DIR, 'checkpoints');

/**
 * What a killed run left in scratch directories of experiments (checkpoints, image builds, cow
 * tars): the host lock lets one suite run at a time, so everything in them is a leftover. Removed
 * without crossing into another file system, so that a mount left inside cannot take its source along.
 */
export async function sweepScratch(dirs: string[]): Promise<string[]> {
  const gone: string[] = [];
  for (const dir of dirs) {
    for (const d of await readdir(dir).catch(() => [] as string[])) {
      await execa('rm', ['-rf', '--one-file-system', join(dir, d)]);
      gone.push(`scratch directory ${join(dir, d)}`);
    }
  }
  return gone;
}

const NONE_REASON = 'its driver implements none';

/** A driver's capabilities, or every one refused with the reason when it has none (issue 12). */
export async function capabilitiesOf(driver: Driver, profile?: ProfileName): Promise<Capabilities> {
  if (driver.capabilities) return driver.capabilities(profile);
  const no = { ok: false, reason: NONE_REASON };
  return { pause: no, checkpoint: no, migrate: no, clone: no };
}

/** One run of an experiment cell; never throws for what the run does (that is its samples' status). */
export async function measureExperiment(run: PlannedRun, env: RunEnv, profile: Profile, outer: AbortSignal, log: (line: string) => void): Promise<Sample[]> {
  const { suite, plan, prep, rec } = env;
  const cell = run.cell;
  const driver = env.registry.drivers[cell.platform]!;
  const experiment = env.registry.experiments?.[cell.workload];
  if (!experiment || cell.param === undefined) throw new Error(`cell ${cell.id} names no experiment of this suite`);
  const ac = new AbortController();
  const onOuter = () => ac.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  const id = nextGuestId();
  const pool = new GuestPool(log);
  const commands: RecordedCommand[] = [];
  const clock = { t0: performance.now() };
  const hostCpus = cpus().length;
  // tenant i's CPUs are the i-th block of the cell's layout (wrapping on a small host, as for tenants)
  const cpusOf = (tenant: number) => cpuLayout(cell.cpuPolicy, plan.vcpus, hostCpus, tenant + 1)[tenant]!;
  let seq = 0;
  await mkdir(CHECKPOINTS_DIR, { recursive: true });
  // a private image is made for a guest name and tenant; the guest started on it gets both
  const specOf = (name: string, tenant: number, image?: 'private') => ({ ...specFor(name, plan, profile, cpusOf(tenant), cell, []), ...(image ? { image } : {}) });
  const copied = new Set<string>();
  const ctx: ExperimentContext = {
    ...prep,
    signal: ac.signal,
    timeoutS: profile.timeoutS,
    tiers: {},
    platform: cell.platform,
    param: cell.param,
    provision: (tenant = 0, extra = {}) => {
      const { image, plainDir, shares } = extra;
      if (image && !copied.has(image.guest)) return Promise.reject(new Error(`no private image ${image.guest} was made in this run`));
      if (image) copied.delete(image.guest);
      const spec = image ? specOf(image.guest, image.tenant, 'private') : specOf(`${id}-g${seq++}`, tenant);
      return pool.provision(async () => recordingGuest(await driver.provision({ ...spec, ...(plainDir ? { plainDir } : {}), ...(shares ? { shares } : {}) }, ctx), commands, clock));
    },
    copyImage: async (tenant = 0) => {
      if (!driver.copyImage) throw new Error(`platform ${cell.platform} has no private images: ${driver.noPrivateImage ?? 'its driver makes no copies'}`);
      const name = `${id}-g${seq++}`;
      const copy = await pool.copy(() => driver.copyImage!(specOf(name, tenant, 'private'), ctx));
      copied.add(name);
      return { guest: name, tenant, bytes: copy.bytes, seconds: copy.seconds };
    },
    destroy: (g) => pool.destroy(g),
    capabilities: () => capabilitiesOf(driver, profile.name),
    checkpointDir: async () => {
      checkpoints ??= await mkdtemp(join(CHECKPOINTS_DIR, `${id}-`));
      return mkdtemp(join(checkpoints, 'cp-'));
    },
    restore: (checkpoint, tenant = 0) => {
      if (!driver.restore) return Promise.reject(new Error(`platform ${cell.platform} cannot restore a checkpoint`));
      const spec = specOf(`${id}-g${seq++}`, tenant);
      return pool.provision(async () => recordingGuest(await driver.restore!(spec, checkpoint, ctx), commands, clock));
    },
    clone: (source, tenant = 0) => {
      if (!driver.clone) return Promise.reject(new Error(`platform ${cell.platform} cannot clone a running guest`));
      const spec = specOf(`${id}-g${seq++}`, tenant);
      return pool.provision(async () => recordingGuest(await driver.clone!(source, spec, ctx), commands, clock));
    },
  };
  let checkpoints: string | undefined;
  let status: SampleStatus = 'ok';
  let message: string | undefined;
  let values: ExperimentMetric[] = [];
  let raw: RawOutput[] = [];
  const artifacts = runArtifactsDir(cell.id, run.rep, run.warmup);
  const artifactDir = makeRunDir(rec.dir, artifacts);
  let calibration: Calibration | undefined;
  try {
    calibration = await rec.calibrate(cpusOf(0), ac.signal);
  } catch (err) {
    log(`calibration failed (${errorMessage(err)}); this run has none`);
  }
  const start = new Date();
  clock.t0 = performance.now();
  const work = experiment.run(ctx);
  try {
    const result = await deadline(work, profile.timeoutS * 1000, () => ac.abort());
    values = result.metrics;
    raw = result.raw ?? [];
  } catch (err) {
    if (err instanceof Timeout) {
      status = 'dnf';
      message = `did not finish within ${profile.timeoutS} s`;
      await deadline(work.catch(() => undefined), SETTLE_MS, () => undefined).catch(() => undefined);
    } else {
      const timedOut = (err as { result?: { timedOut?: boolean } }).result?.timedOut === true;
      status = timedOut && !outer.aborted ? 'dnf' : 'error';
      message = errorMessage(err);
    }
  } finally {
    // the procedure's guests are gone before the next run, whatever it did; in-flight ones with them
    ac.abort();
    await pool.close();
    if (checkpoints) await rm(checkpoints, { recursive: true, force: true }).catch((err) => log(`could not remove the checkpoints ${checkpoints}: ${errorMessage(err)}`));
    outer.removeEventListener('abort', onOuter);
  }
  const end = new Date();
  const first = pool.all[0];
  const accel = first?.accel ?? 'native';
  try {
    writeRunArtifacts(artifactDir, { cell, run, driver: driver.name, target: first, commands, raw, calibration, status, message, start, end });
  } catch (err) {
    log(`could not write the artifacts of ${cell.id} rep ${run.rep}: ${errorMessage(err)}`);
  }
  for (const v of values) if (!experiment.metrics.some((m) => m.metric === v.metric)) log(`experiment ${experiment.name} returned ${v.metric}, which it does not declare; not recorded`);
  const common = {
    suite,
    ...sampleCellFields(cell),
    rep: run.rep,
    warmup: run.warmup,
    accel,
    vcpus: plan.vcpus,
    memoryBytes: plan.memoryBytes,
    start: start.toISOString(),
    end: end.toISOString(),
    ...(calibration ? { calibration } : {}),
    ...(accel !== 'native' ? { guestMitigations: rec.guestMitigations } : {}),
    artifacts,
  };
  return experiment.metrics.flatMap((m): Sample[] => {
    const base = { ...common, metric: m.metric, unit: m.unit, better: m.better };
    if (status !== 'ok') return [{ ...base, value: null, status, ...(message ? { message } : {}) }];
    const got = values.filter((v) => v.metric === m.metric);
    if (got.length === 0) return m.optional ? [] : [{ ...base, value: null, status: 'error', message: `experiment returned no value for ${m.metric}` }];
    return got.map((v) => {
      const bad = v.status === undefined && (v.value === null || !Number.isFinite(v.value));
      return {
        ...base,
        ...(v.tenant !== undefined ? { tenant: v.tenant } : {}),
        value: v.status === undefined && !bad ? v.value : null,
        status: bad ? 'error' : (v.status ?? 'ok'),
        ...(bad ? { message: `experiment returned no finite value for ${m.metric}` } : v.message ? { message: v.message } : {}),
        ...(v.note ? { note: v.note } : {}),
      };
    });
  });
}
