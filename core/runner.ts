// The runner: validate, plan, prepare once, then every planned run in its seeded interleaved
// order: fresh guests -> workload setup -> neighbour start -> measured run (timeout = DNF) ->
// neighbour stop -> guests destroyed, samples appended. Cleanup runs on success, failure and signals.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { ADAPTIVE_DEFAULTS, adaptiveRecord, cellsNeedingMore, repCap, decideRepetitions, extraRound, type AdaptiveReason, type AdaptiveRecord } from '../analysis/adaptive.ts';
import { resolveBaseline } from '../analysis/baseline.ts';
import { compareDirs } from '../analysis/compare-dirs.ts';
import { hostDifferences, suspectCells } from '../analysis/compare.ts';
import { loadRun, runHost } from '../analysis/resultdir.ts';
import { readSamplesJsonl, writeSummaryCsv } from '../analysis/summary.ts';
import { DRIVERS } from '../drivers/index.ts';
import { NEIGHBOURS, WORKLOADS, allGuestPackages } from '../workloads/index.ts';
import { cleanupAll, installSignalHandlers } from './cleanup.ts';
import { UnavailableError, UsageError, errorMessage, fileSystemError } from './errors.ts';
import { acquireLock } from './lock.ts';
import { CACHE_DIR, ensurePackages, gitCommit, hostFacts, hostTenancy, isDebianLike, isRoot, missingPackages, toolVersions } from './host.ts';
import { tenancyLoad, tenantShapes, type TenancyHost } from './tenancy.ts';
import { cpuLayout, expandCells, sampleCellFields, fitToHost, runKey, schedule, type PlannedRun, type SuiteDefinition } from './matrix.ts';
import { HELP, parseSuiteArgs, type RunOptions } from './options.ts';
import { PROFILES } from './profiles.ts';
import { Progress, formatDuration } from './progress.ts';
import { MANIFEST, SAMPLES, SampleWriter, checkResumable, newResultDir, readManifest, repairSamples, writeManifest, type Manifest } from './results.ts';
import { checkOutputTarget, resultBytes } from './out-check.ts';
import { sweepWatchdogs } from './watchdog.ts';
import type { Accel, Calibration, Cell, Driver, GuestSpec, Guest, Metric, PrepareContext, Profile, ProfileName, RawOutput, RunContext, RunningNeighbour, Sample, SampleStatus, Share, Workload } from './types.ts';
import { COMMAND_CAP, RAW_CAP, makeRunDir, runArtifactsDir, writeArtifact } from './artifacts.ts';
import { recordingGuest, type RecordedCommand } from './recording-guest.ts';
import { calibrate } from '../monitors/calibration.ts';
import { cpuSplit, parseProcStat, type ProcStat } from '../monitors/proc.ts';
import { RunMonitor } from '../monitors/sampler.ts';
import { cgroupLayout } from '../drivers/cgroups.ts';
import { currentGuestMitigations, hostVulnerabilities } from '../drivers/mitigations.ts';
import { MONITOR_INTERVAL_MS, monitorSources } from '../monitors/sampler.ts';
import { execa } from 'execa';

const GiB = 1024 ** 3;
/** Seconds a guest pair costs beyond the workload (provision, destroy), for estimates. */
const GUEST_OVERHEAD_S = 3;
/** Grace after the measured run's timeout before a neighbour is killed from outside regardless. */
const NEIGHBOUR_DEADLINE_GRACE_S = 120;
/** --reps auto: run time a cell may spend in all, by profile (smoke is for CI: minutes, not half an hour). */
const AUTO_BUDGET_S: Record<string, number> = { smoke: 240, quick: 1800, paper: 7200 };
/**
 * TCG emulates every guest instruction (the smoke kernel compile ran ~65x slower than natively
 * here). The run timeout exists to catch hangs, not to cut slow emulation short, so for guests
 * under TCG it is this many times the profile's unless --timeout was given; estimates likewise.
 */
export const TCG_SLOWDOWN = 10;

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}
const stdio: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };

function estimateRunS(cell: Cell, profile: Profile, accel: Record<string, Accel> = {}): number {
  const w = WORKLOADS[cell.workload]?.estimatedSeconds?.[profile.name] ?? 60;
  const tcg = accel[cell.platform] === 'tcg';
  // tenants share the host: N busy tenants under TCG cost about N times, natively f times
  const guests = (cell.tenants ?? 1) + (cell.neighbour === 'none' ? 0 : 1);
  return (w * tenancyLoad(cell, { cpus: cpus().length }, tcg) + GUEST_OVERHEAD_S * guests) * (tcg ? TCG_SLOWDOWN : 1);
}

/** The profile a platform's runs use: under TCG, a longer run timeout unless --timeout was given. */
export function platformProfile(profile: Profile, accel: Accel, timeoutChosen: boolean): Profile {
  return accel === 'tcg' && !timeoutChosen ? { ...profile, timeoutS: profile.timeoutS * TCG_SLOWDOWN } : profile;
}

/** Metric names a workload's run writes (a run is complete when all of them are in samples.jsonl). */
const metricsOf = (workload: string) => WORKLOADS[workload]?.metrics.map((m) => m.metric);

/** Exit code when the file system stopped a run (disk full, read-only, not a directory...). */
export const EXIT_FILE_SYSTEM = 4;

/**
 * Runs one suite; returns the process exit code (0 ok, 1 some runs errored, 2 bad input /
 * unavailable, 4 the file system stopped the run: samples already written stay valid).
 */
export async function runSuite(def: SuiteDefinition, argv: string[], io: Io = stdio): Promise<number> {
  try {
    return await runSuiteInner(def, argv, io);
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

async function runSuiteInner(def: SuiteDefinition, argv: string[], io: Io): Promise<number> {
  const known = { platforms: Object.keys(DRIVERS), workloads: Object.keys(WORKLOADS), neighbours: Object.keys(NEIGHBOURS) };
  const parsed = parseSuiteArgs(argv, def, known);
  if (parsed === 'help') {
    io.out(HELP(def, known));
    return 0;
  }
  let opts: RunOptions = parsed;
  let done = new Set<string>();
  let resumeDir: string | undefined;
  if (opts.resume) {
    resumeDir = resolve(opts.resume);
    const m = readManifest(resumeDir);
    checkResumable(m, def.name, join(resumeDir, MANIFEST));
    opts = { ...m.options, resume: resumeDir, dryRun: opts.dryRun, compareTo: opts.compareTo ?? m.options.compareTo };
    // what a repair would keep; the file itself is repaired only under the lock
    done = repairSamples(join(resumeDir, SAMPLES), metricsOf, { write: false }).done;
  }
  const profile: Profile = { ...PROFILES[opts.profile], reps: opts.reps, warmup: opts.warmup, timeoutS: opts.timeoutS, pidsMax: opts.pidsMax };
  // the VM drivers read their accelerator choice from the environment (also how tests set it)
  if (opts.accel) process.env.VIRTBENCH_ACCEL = opts.accel;
  // likewise the VM guests' kernel mitigations (drivers/mitigations.ts): the host's unless chosen
  process.env.VIRTBENCH_GUEST_MITIGATIONS = opts.guestMitigations ?? 'host';

  const chosen = opts.platforms ?? def.platforms.filter((p) => p in DRIVERS);
  const drivers = chosen.map((p) => DRIVERS[p]!);
  const workloadNames = [...new Set(def.rows.filter((r) => !opts.workloads || opts.workloads.includes(r.workload)).map((r) => r.workload))];
  const neighbourNames = [...new Set(def.rows.flatMap((r) => Object.values(r.neighbours)))];

  // a missing or unusable baseline is bad input: said before anything runs
  const compareBase = await resolveCompareTo(opts, def.name);
  if (!opts.dryRun) {
    if (!isRoot()) throw new UsageError('virtbench needs root: it creates cgroups, containers and a bridge (run with sudo, or use --dry-run)');
    // the target is checked before anything starts, with the most runs this selection can plan
    const upper = makePlan(def, opts, chosen, profile, io).runs.filter((r) => !done.has(runKey(r.cell.id, r.rep, r.warmup))).length;
    if (resumeDir) checkOutputTarget(`--resume ${opts.resume}`, resumeDir, resultBytes(upper), [join(resumeDir, SAMPLES), join(resumeDir, MANIFEST)]);
    else checkOutputTarget(`--out ${opts.out}`, opts.out, resultBytes(upper));
    const release = await acquireLock();
    try {
      if (resumeDir) {
        const repair = repairSamples(join(resumeDir, SAMPLES), metricsOf);
        for (const r of repair.removed) io.err(`resume: removed ${r} (${join(resumeDir, SAMPLES)})`);
        done = repair.done;
      }
      return await execute(def, opts, profile, drivers, workloadNames, neighbourNames, done, resumeDir, io, compareBase);
    } finally {
      await release();
    }
  }
  // dry run: probe without installing or creating anything
  // VM platforms under TCG are estimated as such, as in a real run; a platform that cannot run only
  // because its host packages are missing is planned, as the real run installs them first
  const workloadsAndNeighbours = [...workloadNames.map((n) => WORKLOADS[n]!), ...neighbourNames.map((n) => NEIGHBOURS[n]!)];
  const { ok: available, accel } = await probeAll(drivers, opts.platforms !== undefined, io, profile.name, async (d) => (isDebianLike() ? missingPackages(d.hostPackages) : []));
  const wanted = hostPackagesFor(available, workloadsAndNeighbours);
  const missing = isDebianLike() ? await missingPackages(wanted) : [];
  if (missing.length) io.out(`the real run installs these host packages first: ${missing.join(' ')}`);
  const plan = makePlan(def, opts, available.map((d) => d.name), profile, io);
  printPlan(plan, profile, done, io, accel);
  if (opts.repsAuto) {
    const budgetS = AUTO_BUDGET_S[opts.profile];
    const caps = plan.cells.map((c) => repCap(estimateRunS(c, profile, accel), { minReps: opts.reps, budgetS }));
    const most = plan.cells.reduce((s, c, i) => s + (caps[i]! - opts.reps) * estimateRunS(c, profile, accel), 0);
    io.out(
      `reps auto: ${opts.reps} interleaved reps per cell first, then more rounds of the cells whose CoV is above ${ADAPTIVE_DEFAULTS.cvThreshold * 100}% ` +
        `or that have a value beyond ${ADAPTIVE_DEFAULTS.outlierSd} sd, up to ${Math.min(...caps) === Math.max(...caps) ? caps[0] : `${Math.min(...caps)}-${Math.max(...caps)}`} reps per cell ` +
        `(${formatDuration(budgetS ?? ADAPTIVE_DEFAULTS.budgetS)} of runs per cell at most): up to ${formatDuration(most)} more`,
    );
  }
  if (compareBase) io.out(`then compare with ${compareBase}; suspect cells get ${opts.reps} more runs each before the verdict`);
  return 0;
}

/** --compare-to baseline|DIR as a result directory of this suite (UsageError otherwise). */
async function resolveCompareTo(opts: RunOptions, suite: string): Promise<string | undefined> {
  if (opts.compareTo === undefined) return undefined;
  const dir = opts.compareTo === 'baseline' ? resolveBaseline(suite, hostname(), opts.out) : opts.compareTo;
  const run = await loadRun(dir);
  if (run.manifest.suite !== suite) throw new UsageError(`--compare-to ${opts.compareTo}: ${run.dir} holds a '${run.manifest.suite}' run, not '${suite}'`);
  if (runHost(run.manifest) !== hostname()) throw new UsageError(`--compare-to ${opts.compareTo}: ${run.dir} was measured on '${runHost(run.manifest)}', not on this host '${hostname()}' (compare other hosts' runs with npm run compare -- --allow-other-host)`);
  return run.dir;
}

/** --resume continues the plan its manifest recorded; a different one (a platform gone, an edited manifest) is refused. */
function samePlan(m: Manifest, plan: Plan, dir: string): void {
  const was = m.cells.map((c) => c.id);
  const now = plan.cells.map((c) => c.id);
  const lost = was.filter((c) => !now.includes(c));
  const gained = now.filter((c) => !was.includes(c));
  if (lost.length > 0 || gained.length > 0 || plan.runs.length !== m.plannedRuns) {
    const why = lost.length ? `cells it cannot run now: ${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', ...' : ''}` : gained.length ? `cells it never planned: ${gained.slice(0, 3).join(', ')}` : `${plan.runs.length} runs instead of ${m.plannedRuns}`;
    throw new UsageError(`--resume ${dir}: this host or harness would plan another run (${why}); start a new run instead`);
  }
}

interface Plan {
  cells: Cell[];
  runs: PlannedRun[];
  vcpus: number;
  memoryBytes: number;
  adjustments: string[];
  guestsPerRun: number;
  /** Suites with groups: the host and budget multi-tenant cells are sized from (core/tenancy.ts tenantShapes). */
  tenancy?: TenancyHost;
}

function makePlan(def: SuiteDefinition, opts: RunOptions, platforms: string[], _profile: Profile, io: Io): Plan {
  const tenancy = def.groups ? hostTenancy(opts) : undefined;
  const cells = expandCells(def, {
    tenancy,
    cpuPolicies: Object.fromEntries(platforms.map((p) => [p, DRIVERS[p]?.cpuPolicies])),
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
        const d = DRIVERS[p]?.defaultLimits;
        return [p, { cpuPolicy: opts.cpuPolicyChosen ? undefined : d?.cpuPolicy, memoryLimit: opts.memoryLimitChosen ? undefined : d?.memoryLimit }];
      }),
    ),
    overcommit: 1,
  });
  if (cells.length === 0) throw new UsageError('the selection leaves no cell to run; check --workloads and --neighbours');
  const guestsPerRun = Math.max(...cells.map((c) => 1 + (c.neighbour === 'none' ? 0 : 1) + (WORKLOADS[c.workload]?.tiers?.length ?? 0)));
  const fit = fitToHost(opts, guestsPerRun, cpus().length, totalmem());
  return { cells, runs: schedule(cells, opts.reps, opts.warmup, opts.seed), guestsPerRun, ...fit, ...(tenancy ? { tenancy } : {}) };
}

function printPlan(plan: Plan, profile: Profile, done: Set<string>, io: Io, accel: Record<string, Accel> = {}): void {
  const todo = plan.runs.filter((r) => !done.has(runKey(r.cell.id, r.rep, r.warmup)));
  const already = plan.runs.length - todo.length;
  const est = todo.reduce((s, r) => s + estimateRunS(r.cell, profile, accel), 0);
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
 */
async function probeAll(drivers: Driver[], explicit: boolean, io: Io, profile: ProfileName, installable?: (d: Driver) => Promise<string[]>): Promise<{ ok: Driver[]; accel: Record<string, Accel> }> {
  const ok: Driver[] = [];
  const accel: Record<string, Accel> = {};
  for (const d of drivers) {
    const p = await d.probe(profile);
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
  compareBase?: string,
): Promise<number> {
  const abort = new AbortController();
  installSignalHandlers(() => abort.abort(), io.err);
  const log = io.err;

  // a killed run of any platform may have left guests (and a running adversary) behind: sweep them
  // all, not only the platforms of this run, or this run would be measured beside them
  for (const line of sweepWatchdogs()) log(`removed leftover of an interrupted run: ${line}`);
  for (const d of Object.values(DRIVERS)) {
    for (const line of (await d.sweep?.()) ?? []) log(`removed leftover of an interrupted run: ${line}`);
  }
  const workloads = workloadNames.map((n) => WORKLOADS[n]!);
  const neighbours = neighbourNames.map((n) => NEIGHBOURS[n]!);
  await ensurePackages(hostPackagesFor(candidates, [...workloads, ...neighbours]), log);
  const { ok: drivers, accel } = await probeAll(candidates, opts.platforms !== undefined, io, profile.name);
  const plan = makePlan(def, opts, drivers.map((d) => d.name), profile, io);
  if (resumeDir) samePlan(readManifest(resumeDir), plan, resumeDir);
  const profiles = Object.fromEntries(drivers.map((d) => [d.name, platformProfile(profile, accel[d.name]!, opts.timeoutChosen === true)]));
  printPlan(plan, profile, done, { out: io.err, err: io.err }, accel);
  for (const [p, pp] of Object.entries(profiles)) {
    if (pp.timeoutS !== profile.timeoutS) log(`note: ${p} runs under TCG: its run timeout is ${formatDuration(pp.timeoutS)} (${TCG_SLOWDOWN}x the profile's; --timeout sets it)`);
  }
  const facts = await hostFacts(cgroupLayout().version);
  const mitigations = currentGuestMitigations();
  const harnessCpus = await moveHarnessOffMeasuredCpus(plan, log);
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
  };
  for (const line of harnessCpus.note ? [harnessCpus.note] : []) manifest.caveats.push(line);
  if (!resumeDir) writeManifest(dir, manifest);
  else if (!existsSync(join(dir, MANIFEST))) throw new UsageError(`${dir}: no manifest`);
  log(`results: ${dir}`);
  for (const c of manifest.caveats) log(`caveat: ${c}`);

  const writer = new SampleWriter(join(dir, SAMPLES));
  const recording: RunRecording = { dir, monitors: !opts.noMonitors, guestMitigations: mitigations.label };
  let errors = 0;
  let verdict: Verdict | undefined;
  try {
    const prep: PrepareContext = { profile, cacheDir: CACHE_DIR, guestPackages: allGuestPackages(), log };
    for (const d of drivers) await d.prepare?.(prep);
    const shares = new Map<string, Share[]>();
    for (const w of workloads) shares.set(`w:${w.name}`, (await w.prepareHost?.(prep)) ?? []);
    for (const n of neighbours) shares.set(`n:${n.name}`, (await n.prepareHost?.(prep)) ?? []);

    const runAll = async (todo: PlannedRun[]) => {
      const perRun = todo.reduce((s, r) => s + estimateRunS(r.cell, profile, accel), 0) / Math.max(1, todo.length);
      const progress = new Progress(todo.length, perRun);
      try {
        for (const run of todo) {
          if (abort.signal.aborted) break;
          progress.begin(`${run.cell.id} ${run.warmup ? 'warm-up' : 'rep'} ${run.rep}`);
          const samples = await measure(run, def.name, plan, profiles[run.cell.platform]!, prep, shares, abort.signal, progress.log.bind(progress), recording);
          if (abort.signal.aborted) break; // an interrupted run is not data
          writer.append(samples);
          const first = samples[0]!;
          if (first.status === 'error') errors++;
          const shown = samples.map((s) => (s.value === null ? `${s.metric}=${s.status}` : `${s.metric}=${+s.value.toPrecision(4)}${s.unit}`)).join(' ');
          progress.end(`${first.status === 'ok' ? 'ok ' : first.status.toUpperCase()} ${run.cell.id} ${run.warmup ? 'warm-up' : 'rep'} ${run.rep}: ${shown}${first.message ? ` (${first.message})` : ''}`);
        }
      } finally {
        progress.finish();
      }
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

/** Samples recorded so far in `dir` (a cut-off last line cannot happen here: the writer fsyncs whole lines). */
async function recorded(dir: string): Promise<Sample[]> {
  return (await readSamplesJsonl(join(dir, SAMPLES))).samples;
}

/**
 * --reps auto: after the initial rounds, rounds of only the cells that still need more (CoV above the
 * threshold, or an outlier), each round interleaved, until every cell is settled or at its cap.
 * Returns, per cell, which reasons led to more repetitions ('cap reached' when it stopped there).
 */
async function adaptiveRounds(cells: Cell[], opts: RunOptions, dir: string, runAll: (r: PlannedRun[]) => Promise<void>, signal: AbortSignal, log: (l: string) => void): Promise<AdaptiveRecord[]> {
  const seen = new Map<string, Set<AdaptiveReason>>();
  for (let round = 1; ; round++) {
    const samples = await recorded(dir);
    const decisions = decideRepetitions(samples, { minReps: opts.reps, budgetS: AUTO_BUDGET_S[opts.profile] }, cells.map((c) => c.id));
    for (const d of decisions) {
      const set = seen.get(d.cell) ?? new Set();
      for (const r of d.reasons) set.add(r);
      seen.set(d.cell, set);
    }
    const more = new Set(cellsNeedingMore(decisions));
    if (more.size === 0 || signal.aborted) {
      for (const d of decisions) log(`reps auto: ${d.cell}: ${d.detail}`);
      return decisions.map((d) => ({ ...adaptiveRecord(d), reasons: [...(seen.get(d.cell) ?? [])] }));
    }
    for (const d of decisions.filter((x) => x.more)) log(`reps auto: ${d.cell}: ${d.detail}`);
    await runAll(extraRound(cells.filter((c) => more.has(c.id)), samples, opts.seed + round));
  }
}

interface Verdict {
  exitCode: 0 | 1 | 2;
  report: string;
  recheck?: { cells: string[]; extraReps: number };
}

/**
 * --compare-to: compare the run with the baseline; when compare suspects a regression (a regression,
 * or a change beyond the threshold in the bad direction that is not yet significant), run only the
 * suspect cells again (as many interleaved rounds as the initial repetitions) and compare again.
 */
async function compareWithRecheck(baseline: string, dir: string, cells: Cell[], opts: RunOptions, runAll: (r: PlannedRun[]) => Promise<void>, signal: AbortSignal, log: (l: string) => void): Promise<Verdict> {
  const first = await compareDirs(baseline, dir, { allowPartial: true });
  const suspects = first.comparison ? suspectCells(first.comparison) : [];
  if (suspects.length === 0 || signal.aborted) return first;
  log(`compare: ${suspects.length} suspect cell(s); ${opts.reps} more interleaved run(s) each before the verdict: ${suspects.join(', ')}`);
  const again = cells.filter((c) => suspects.includes(c.id));
  for (let round = 1; round <= opts.reps && !signal.aborted; round++) await runAll(extraRound(again, await recorded(dir), opts.seed + 1000 + round));
  if (signal.aborted) return first;
  return { ...(await compareDirs(baseline, dir, { allowPartial: true })), recheck: { cells: suspects, extraReps: opts.reps } };
}

/**
 * The harness (this node process, its threads and the helpers it starts: lxc-attach, the monitors)
 * moves to host CPUs that no measured guest is pinned to, where the host has such CPUs; guests'
 * processes leave that mask as they join their cpuset. Without spare CPUs it says so.
 */
async function moveHarnessOffMeasuredCpus(plan: Plan, log: (l: string) => void): Promise<{ measured: number[]; harness: number[] | 'all'; note?: string }> {
  const n = cpus().length;
  const measured = new Set<number>();
  for (const c of plan.cells) {
    const guests = 1 + (c.neighbour === 'none' ? 0 : 1) + (WORKLOADS[c.workload]?.tiers?.length ?? 0);
    for (const g of cpuLayout(c.cpuPolicy, plan.vcpus, n, guests)) for (const cpu of g) measured.add(cpu);
  }
  const spare = Array.from({ length: n }, (_, i) => i).filter((i) => !measured.has(i));
  const list = [...measured].sort((a, b) => a - b);
  if (spare.length === 0) {
    return { measured: list, harness: 'all', note: `the harness shares the measured CPUs: the guests are pinned to all ${n} host CPUs, none is left for it (its own work between runs is idle during a measured run except the 1 s monitor tick)` };
  }
  const r = await execa('taskset', ['-a', '-p', '-c', spare.join(','), String(process.pid)], { reject: false, all: true });
  if (r.exitCode !== 0) return { measured: list, harness: 'all', note: `could not move the harness off the measured CPUs: ${(r.all ?? '').trim().split('\n').at(-1)}` };
  log(`harness moved to host CPU(s) ${spare.join(',')}, off the measured guests' ${list.join(',')}`);
  return { measured: list, harness: spare };
}

function hostCaveats(): string[] {
  const out: string[] = [];
  try {
    const sched = readFileSync('/sys/block/' + rootDisk() + '/queue/scheduler', 'utf8');
    const active = sched.match(/\[(\S+)\]/)?.[1];
    if (active && active !== 'bfq') out.push(`I/O scheduler of the root disk is ${active}: blkio/io weights are only enforced by bfq`);
  } catch {
    /* no block device info (container host): nothing to say */
  }
  return out;
}

function rootDisk(): string {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const dev = line?.split(' - ')[1]?.split(' ')[1] ?? '';
  return dev.replace('/dev/', '').replace(/p?\d+$/, '');
}

function specFor(name: string, plan: Plan, profile: Profile, cpuList: number[], cell: Cell, shares: Share[]): GuestSpec {
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

class Timeout extends Error {}

function deadline<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
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

/** What every measured run records beside its metrics (calibration, monitors, artifacts). */
interface RunRecording {
  /** The result directory: artifacts go to its runs/<cell>#<rep>/. */
  dir: string;
  monitors: boolean;
  /** VM platforms: the guest kernel's mitigation setting (label). */
  guestMitigations: string;
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

async function measure(
  run: PlannedRun,
  suite: string,
  plan: Plan,
  profile: Profile,
  prep: PrepareContext,
  shares: Map<string, Share[]>,
  outer: AbortSignal,
  log: (line: string) => void,
  rec: RunRecording,
): Promise<Sample[]> {
  const cell = run.cell;
  const driver = DRIVERS[cell.platform]!;
  const workload = WORKLOADS[cell.workload]!;
  const neighbour = cell.neighbour === 'none' ? undefined : NEIGHBOURS[cell.neighbour]!;
  const ac = new AbortController();
  const onOuter = () => ac.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  const ctx: RunContext = { ...prep, signal: ac.signal, timeoutS: profile.timeoutS, tiers: {} };
  // guest order for pinning: target, neighbour, then the workload's other tiers
  const layout = cpuLayout(cell.cpuPolicy, plan.vcpus, cpus().length, 2 + (workload.tiers?.length ?? 0));
  const id = `vb${++guestCounter}-${process.pid % 10000}`;
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
    calibration = await calibrate(layout[0]!, ac.signal);
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
  return workload.metrics.map((m) => {
    const got = metrics.find((x) => x.metric === m.metric);
    const missing = status === 'ok' && (got === undefined || !Number.isFinite(got.value));
    return {
      suite,
      ...sampleCellFields(cell),
      rep: run.rep,
      warmup: run.warmup,
      metric: m.metric,
      value: status === 'ok' && !missing ? got!.value : null,
      unit: m.unit,
      better: m.better,
      status: missing ? 'error' : status,
      message: missing ? `workload returned no value for ${m.metric}` : message,
      accel,
      vcpus: plan.vcpus,
      memoryBytes: plan.memoryBytes,
      start: start.toISOString(),
      end: end.toISOString(),
      neighbourDetail,
      ...(got?.note ? { note: got.note } : {}),
      ...(target?.bootSeconds !== undefined ? { bootSeconds: Math.round(target.bootSeconds * 1000) / 1000 } : {}),
      ...(calibration ? { calibration } : {}),
      ...(context && Object.keys(context).length ? { context } : {}),
      ...(accel !== 'native' ? { guestMitigations: rec.guestMitigations } : {}),
      artifacts,
    };
  });
}

/** command.json, the workload's raw output files and run.json (what the samples say, in one place). */
function writeRunArtifacts(
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
