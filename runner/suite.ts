// A suite run from start to end: options, dry-run plan or (root, under the host lock) sweep what
// killed runs left, install, probe, plan, manifest, prepare once, every planned run in its seeded
// interleaved order (run-loop.ts), extra rounds (rounds.ts), summary. Cleanup runs on success,
// failure and signals.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hostDifferences } from '../analysis/compare.ts';
import { writeSummaryCsv } from '../analysis/summary.ts';
import { cleanupAll, installSignalHandlers } from '../core/cleanup.ts';
import { UnavailableError, UsageError, fileSystemError } from '../core/errors.ts';
import { CACHE_DIR, ensurePackages, gitCommit, hostFacts, isDebianLike, isRoot, missingPackages, toolVersions } from '../core/host.ts';
import { acquireLock } from '../core/lock.ts';
import { runKey, type PlannedRun, type SuiteDefinition } from '../core/matrix.ts';
import type { RunOptions } from '../core/options.ts';
import { checkOutputTarget, resultBytes } from '../core/out-check.ts';
import { PROFILES } from '../core/profiles.ts';
import { formatDuration } from '../core/progress.ts';
import { MANIFEST, SAMPLES, SampleWriter, newResultDir, readManifest, writeManifest, type Manifest } from '../core/results.ts';
import type { Capabilities, Driver, Experiment, PrepareContext, Profile, Share } from '../core/types.ts';
import { sweepWatchdogs } from '../core/watchdog.ts';
import { cgroupLayout } from '../drivers/cgroups.ts';
import { currentGuestMitigations, hostVulnerabilities } from '../drivers/mitigations.ts';
import { calibrate } from '../monitors/calibration.ts';
import { MONITOR_INTERVAL_MS, monitorSources } from '../monitors/sampler.ts';
import { readInvocation, repairForResume, resolveCompareTo, samePlan } from './args.ts';
import { hostCaveats, moveHarnessOffMeasuredCpus } from './host.ts';
import { stdio, type Io } from './io.ts';
import type { RunEnv } from './measure.ts';
import { TCG_SLOWDOWN, estimateRunS, hostPackagesFor, makePlan, platformProfile, printAutoEstimate, printPlan, probeAll } from './plan.ts';
import { CHECKPOINTS_DIR, sweepScratch } from './experiment.ts';
import { IMAGE_BUILD_DIR } from '../experiments/image.ts';
import { COW_TAR_DIR } from '../experiments/cow.ts';
import { probeCapabilities } from './capabilities.ts';
import { REGISTRY, guestPackagesOf, withExperiments, type Registry } from './registry.ts';
import { checkImageCopies } from './image-copies.ts';
import { adaptiveRounds, compareWithRecheck, type Verdict } from './rounds.ts';
import { preflightExperiments } from './preflight.ts';
import { runPlanned } from './run-loop.ts';

/** Exit code when the file system stopped a run (disk full, read-only, not a directory...). */
export const EXIT_FILE_SYSTEM = 4;

/**
 * Runs one suite; returns the process exit code (0 ok, 1 some runs errored, 2 bad input /
 * unavailable, 4 the file system stopped the run: samples already written stay valid).
 */
export async function runSuite(def: SuiteDefinition, argv: string[], io: Io = stdio, registry: Registry = REGISTRY): Promise<number> {
  try {
    return await runSuiteInner(def, argv, io, withExperiments(registry, def));
  } catch (err) {
    if (err instanceof UsageError || err instanceof UnavailableError) {
      io.err(`virtbench: ${err.message}`);
      return 2;
    }
    const fsError = fileSystemError(err);
    if (fsError !== undefined) {
      io.err(`virtbench: ${fsError} (the run stopped; samples written so far are kept: fix the disk, then --resume)`);
      return EXIT_FILE_SYSTEM;
    }
    throw err;
  }
}

async function runSuiteInner(def: SuiteDefinition, argv: string[], io: Io, reg: Registry): Promise<number> {
  const invocation = readInvocation(def, argv, reg, io);
  if (invocation === 'help') return 0;
  const { opts, resumeDir } = invocation;
  let done = invocation.done;
  const profile: Profile = { ...PROFILES[opts.profile], reps: opts.reps, warmup: opts.warmup, timeoutS: opts.timeoutS, pidsMax: opts.pidsMax };
  // the VM drivers read their accelerator choice from the environment (also how tests set it)
  if (opts.accel) process.env.VIRTBENCH_ACCEL = opts.accel;
  // likewise the VM guests' kernel mitigations (drivers/mitigations.ts): the host's unless chosen
  process.env.VIRTBENCH_GUEST_MITIGATIONS = opts.guestMitigations ?? 'host';

  const chosen = opts.platforms ?? def.platforms.filter((p) => p in reg.drivers);
  const drivers = chosen.map((p) => reg.drivers[p]!);
  const workloadNames = [...new Set(def.rows.filter((r) => !opts.workloads || opts.workloads.includes(r.workload)).map((r) => r.workload))];
  // experiments' guests are guests like the workloads': on bare metal their packages are the host's
  const experiments = (def.experiments ?? []).filter((e) => !opts.workloads || opts.workloads.includes(e.name));
  const neighbourNames = [...new Set(def.rows.flatMap((r) => Object.values(r.neighbours)))];

  // a missing or unusable baseline is bad input: said before anything runs
  const compareBase = await resolveCompareTo(opts, def.name);
  if (!opts.dryRun) {
    if (!isRoot()) throw new UsageError('virtbench needs root: it creates cgroups, containers and a bridge (run with sudo, or use --dry-run)');
    // the target is checked before anything starts, with the most runs this selection can plan
    // (silent: the plan that runs says what it leaves out, once)
    const widest = makePlan(def, opts, chosen, reg, { err: () => undefined });
    const upper = widest.runs.filter((r) => !done.has(runKey(r.cell.id, r.rep, r.warmup))).length;
    // private image copies must fit on their disk, also before anything starts
    await checkImageCopies(widest.cells, reg, guestPackagesOf(reg));
    if (resumeDir) checkOutputTarget(`--resume ${opts.resume}`, resumeDir, resultBytes(upper), [join(resumeDir, SAMPLES), join(resumeDir, MANIFEST)]);
    else checkOutputTarget(`--out ${opts.out}`, opts.out, resultBytes(upper));
    await preflightExperiments(experiments, widest.cells, reg.drivers, opts.profile);
    const release = await acquireLock();
    try {
      if (resumeDir) done = repairForResume(resumeDir, reg, io);
      return await execute(def, opts, profile, drivers, workloadNames, neighbourNames, done, resumeDir, io, reg, compareBase, experiments);
    } finally {
      await release();
    }
  }
  // dry run: probe without installing or creating anything
  // VM platforms under TCG are estimated as such, as in a real run; a platform that cannot run only
  // because its host packages are missing is planned, as the real run installs them first.
  // Probes that boot a guest (the VM accelerator, capabilities) run under the host lock only: a dry
  // run beside a running suite must not load the host it measures.
  let release: (() => Promise<void>) | undefined;
  let noProbes = 'not root';
  if (isRoot()) {
    try {
      release = await acquireLock();
    } catch (err) {
      noProbes = `${(err as Error).message}; a dry run boots no probe guest beside it`;
      io.err(`virtbench: ${noProbes}`);
    }
  }
  try {
    return await dryRun(def, opts, profile, drivers, workloadNames, neighbourNames, experiments, done, compareBase, io, reg, release ? undefined : noProbes);
  } finally {
    await release?.();
  }
}

async function dryRun(
  def: SuiteDefinition,
  opts: RunOptions,
  profile: Profile,
  drivers: Driver[],
  workloadNames: string[],
  neighbourNames: string[],
  experiments: Experiment[],
  done: Set<string>,
  compareBase: string | undefined,
  io: Io,
  reg: Registry,
  noProbes: string | undefined,
): Promise<number> {
  const workloadsAndNeighbours = [...workloadNames.map((n) => reg.workloads[n]!), ...neighbourNames.map((n) => reg.neighbours[n]!), ...experiments];
  const { ok: available, accel } = await probeAll(drivers, opts.platforms !== undefined, io, profile.name, async (d) => (isDebianLike() ? missingPackages(d.hostPackages) : []), isRoot() ? noProbes : undefined);
  const wanted = hostPackagesFor(available, workloadsAndNeighbours);
  const missing = isDebianLike() ? await missingPackages(wanted) : [];
  if (missing.length) io.out(`the real run installs these host packages first: ${missing.join(' ')}`);
  const capabilities = await dryRunCapabilities(experiments, available, profile.name, io, noProbes);
  const plan = makePlan(def, opts, available.map((d) => d.name), reg, io, capabilities);
  await checkImageCopies(plan.cells, reg, guestPackagesOf(reg));
  await preflightExperiments(experiments, plan.cells, reg.drivers, opts.profile);
  printPlan(plan, profile, done, io, reg, accel);
  if (opts.repsAuto) printAutoEstimate(plan, opts, profile, io, reg, accel);
  if (compareBase) io.out(`then compare with ${compareBase}; suspect cells get ${opts.reps} more runs each before the verdict`);
  return 0;
}

/**
 * A dry run plans what the real run would: where an experiment needs capabilities, they are
 * probed for real (a VM platform's probe boots a small guest, 10-20 s under TCG), as root and under
 * the host lock only (`noProbes` says why not); otherwise every cell is planned and one line says
 * the real run may skip some.
 */
async function dryRunCapabilities(experiments: Experiment[], drivers: Driver[], profile: Profile['name'], io: Io, noProbes: string | undefined): Promise<Record<string, Capabilities> | undefined> {
  if (!experiments.some((e) => e.needs !== undefined)) return undefined;
  if (noProbes) {
    io.err(`capabilities not probed (${noProbes}): every cell is planned; the real run probes them and skips cells whose capability a platform lacks`);
    return undefined;
  }
  io.err('probing capabilities for real (pause, checkpoint, migrate, clone; a VM platform boots a small guest: 10-20 s under TCG)');
  try {
    return await probeCapabilities(experiments, drivers, profile, io.err);
  } finally {
    await cleanupAll(io.err);
  }
}

async function execute(
  def: SuiteDefinition,
  opts: RunOptions,
  profile: Profile,
  candidates: Driver[],
  workloadNames: string[],
  neighbourNames: string[],
  done: Set<string>,
  resumeDir: string | undefined,
  io: Io,
  reg: Registry,
  compareBase?: string,
  experiments: Experiment[] = [],
): Promise<number> {
  const abort = new AbortController();
  installSignalHandlers(() => abort.abort(), io.err);
  const log = io.err;

  // a killed run of any platform may have left guests (and a running adversary) behind: sweep them
  // all, not only the platforms of this run, or this run would be measured beside them
  for (const line of sweepWatchdogs()) log(`removed leftover of an interrupted run: ${line}`);
  for (const d of Object.values(reg.drivers)) {
    for (const line of (await d.sweep?.()) ?? []) log(`removed leftover of an interrupted run: ${line}`);
  }
  for (const line of await sweepScratch([CHECKPOINTS_DIR, IMAGE_BUILD_DIR, COW_TAR_DIR])) log(`removed leftover of an interrupted run: ${line}`);
  const workloads = workloadNames.map((n) => reg.workloads[n]!);
  const neighbours = neighbourNames.map((n) => reg.neighbours[n]!);
  await ensurePackages(hostPackagesFor(candidates, [...workloads, ...neighbours, ...experiments]), log);
  const { ok: drivers, accel } = await probeAll(candidates, opts.platforms !== undefined, io, profile.name);
  const capabilities = await probeCapabilities(experiments, drivers, profile.name, log);
  const plan = makePlan(def, opts, drivers.map((d) => d.name), reg, io, capabilities);
  if (resumeDir) samePlan(readManifest(resumeDir), plan, resumeDir);
  const profiles = Object.fromEntries(drivers.map((d) => [d.name, platformProfile(profile, accel[d.name]!, opts.timeoutChosen === true)]));
  printPlan(plan, profile, done, { out: io.err, err: io.err }, reg, accel);
  for (const [p, pp] of Object.entries(profiles)) {
    if (pp.timeoutS !== profile.timeoutS) log(`note: ${p} runs under TCG: its run timeout is ${formatDuration(pp.timeoutS)} (${TCG_SLOWDOWN}x the profile's; --timeout sets it)`);
  }
  const facts = await hostFacts(cgroupLayout().version);
  const mitigations = currentGuestMitigations();
  const harnessCpus = await moveHarnessOffMeasuredCpus(plan, reg, log);
  if (compareBase) {
    // the same machine as the baseline, or the whole run would end in a refused comparison
    const diffs = hostDifferences(readManifest(compareBase), { host: facts } as Manifest);
    if (diffs.length > 0) throw new UsageError(`--compare-to: ${compareBase} was measured on other hardware: ${diffs.join(', ')}`);
  }
  const dir = resumeDir ?? newResultDir(resolve(opts.out), def.name, facts.hostname);
  const manifest: Manifest = {
    format: 1,
    suite: def.name,
    created: new Date().toISOString(),
    command: `npm run suite ${def.name} -- ${process.argv.slice(3).join(' ')}`.trim(),
    options: opts,
    profile,
    platforms: drivers.map((d) => d.name),
    accel,
    runTimeoutS: Object.fromEntries(Object.entries(profiles).map(([p, pp]) => [p, pp.timeoutS])),
    adjustments: plan.adjustments,
    cells: plan.cells,
    plannedRuns: plan.runs.length,
    host: facts,
    tools: await toolVersions(),
    harness: await gitCommit(process.cwd()),
    caveats: hostCaveats(),
    guestMitigations: { ...mitigations, hostVulnerabilities: hostVulnerabilities() },
    monitors: opts.noMonitors ? { enabled: false } : { enabled: true, intervalS: MONITOR_INTERVAL_MS / 1000, sources: monitorSources(cgroupLayout().version, cgroupLayout().unified) },
    harnessCpus,
    ...(plan.shard ? { shard: plan.shard } : {}),
    ...(capabilities ? { capabilities } : {}),
  };
  for (const line of harnessCpus.note ? [harnessCpus.note] : []) manifest.caveats.push(line);
  if (!resumeDir) writeManifest(dir, manifest);
  else if (!existsSync(join(dir, MANIFEST))) throw new UsageError(`${dir}: no manifest`);
  log(`results: ${dir}`);
  for (const c of manifest.caveats) log(`caveat: ${c}`);

  const writer = new SampleWriter(join(dir, SAMPLES));
  let errors = 0;
  let verdict: Verdict | undefined;
  try {
    const prep: PrepareContext = { profile, cacheDir: CACHE_DIR, guestPackages: guestPackagesOf(reg), log };
    for (const d of drivers) await d.prepare?.(prep);
    const shares = new Map<string, Share[]>();
    for (const w of workloads) shares.set(`w:${w.name}`, (await w.prepareHost?.(prep)) ?? []);
    for (const n of neighbours) shares.set(`n:${n.name}`, (await n.prepareHost?.(prep)) ?? []);

    const env: RunEnv = { suite: def.name, plan, prep, shares, registry: reg, rec: { dir, monitors: !opts.noMonitors, guestMitigations: mitigations.label, calibrate } };
    const loop = { env, profiles, writer, signal: abort.signal, estimateS: (r: PlannedRun) => estimateRunS(r.cell, profile, reg, accel) };
    const runAll = async (todo: PlannedRun[]) => {
      errors += await runPlanned(todo, loop);
    };
    await runAll(plan.runs.filter((r) => !done.has(runKey(r.cell.id, r.rep, r.warmup))));
    if (opts.repsAuto && !abort.signal.aborted) {
      const adaptive = await adaptiveRounds(plan.cells, opts, dir, runAll, abort.signal, log);
      writeManifest(dir, { ...readManifest(dir), adaptive });
    }
    if (compareBase && !abort.signal.aborted) {
      verdict = await compareWithRecheck(compareBase, dir, plan.cells, opts, runAll, abort.signal, log);
      if (verdict.recheck) writeManifest(dir, { ...readManifest(dir), recheck: verdict.recheck });
    }
  } finally {
    writer.close();
    await cleanupAll(log);
  }
  if (abort.signal.aborted) return 130;
  const { path, rows } = await writeSummaryCsv(dir);
  log(`summary: ${path} (${rows.length} rows)`);
  if (errors > 0) log(`${errors} run(s) ended in error; see 'message' in ${join(dir, SAMPLES)}`);
  if (verdict) {
    // compare's exit code; runs in error are a failure of the night too
    io.out(verdict.report.trimEnd());
    return verdict.exitCode === 2 ? 2 : errors > 0 ? 1 : verdict.exitCode;
  }
  return errors > 0 ? 1 : 0;
}
