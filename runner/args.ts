// From the command line to the options of a run: parse, --resume (the options its manifest
// recorded, the runs already done, the same plan or a refusal) and --compare-to (a result directory
// of this suite from this host). Everything here is checked before anything starts.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveBaseline } from '../analysis/baseline.ts';
import { loadRun, runHost } from '../analysis/resultdir.ts';
import { UsageError } from '../core/errors.ts';
import type { SuiteDefinition } from '../core/matrix.ts';
import { HELP, parseSuiteArgs, type RunOptions } from '../core/options.ts';
import { MANIFEST, SAMPLES, checkResumable, readManifest, repairSamples, type Manifest } from '../core/results.ts';
import type { Io } from './io.ts';
import type { Plan } from './plan.ts';
import { metricsOf, type Registry } from './registry.ts';

export interface Invocation {
  opts: RunOptions;
  /** Run keys already recorded (--resume), not run again. */
  done: Set<string>;
  /** --resume: the result directory continued. */
  resumeDir?: string;
}

/** The options of this run, or 'help' (the help text already written to io.out). */
export function readInvocation(def: SuiteDefinition, argv: string[], reg: Registry, io: Io): Invocation | 'help' {
  const known = { platforms: Object.keys(reg.drivers), workloads: Object.keys(reg.workloads), neighbours: Object.keys(reg.neighbours) };
  const parsed = parseSuiteArgs(argv, def, known);
  if (parsed === 'help') {
    io.out(HELP(def, known));
    return 'help';
  }
  if (!parsed.resume) return { opts: parsed, done: new Set() };
  const resumeDir = resolve(parsed.resume);
  const m = readManifest(resumeDir);
  checkResumable(m, def.name, join(resumeDir, MANIFEST));
  const opts = { ...m.options, resume: resumeDir, dryRun: parsed.dryRun, compareTo: parsed.compareTo ?? m.options.compareTo };
  // what a repair would keep; the file itself is repaired only under the lock (repairForResume)
  const done = repairSamples(join(resumeDir, SAMPLES), metricsOf(reg), { write: false }).done;
  return { opts, done, resumeDir };
}

/** --resume under the lock: cut samples.jsonl back to whole runs; returns the runs it keeps. */
export function repairForResume(resumeDir: string, reg: Registry, io: Io): Set<string> {
  const repair = repairSamples(join(resumeDir, SAMPLES), metricsOf(reg));
  for (const r of repair.removed) io.err(`resume: removed ${r} (${join(resumeDir, SAMPLES)})`);
  return repair.done;
}

/** --compare-to baseline|DIR as a result directory of this suite (UsageError otherwise). */
export async function resolveCompareTo(opts: RunOptions, suite: string): Promise<string | undefined> {
  if (opts.compareTo === undefined) return undefined;
  const dir = opts.compareTo === 'baseline' ? resolveBaseline(suite, hostname(), opts.out) : opts.compareTo;
  const run = await loadRun(dir);
  if (run.manifest.suite !== suite) throw new UsageError(`--compare-to ${opts.compareTo}: ${run.dir} holds a '${run.manifest.suite}' run, not '${suite}'`);
  if (runHost(run.manifest) !== hostname()) throw new UsageError(`--compare-to ${opts.compareTo}: ${run.dir} was measured on '${runHost(run.manifest)}', not on this host '${hostname()}' (compare other hosts' runs with npm run compare -- --allow-other-host)`);
  return run.dir;
}

/** --resume continues the plan its manifest recorded; a different one (a platform gone, an edited manifest) is refused. */
export function samePlan(m: Manifest, plan: Plan, dir: string): void {
  const was = m.cells.map((c) => c.id);
  const now = plan.cells.map((c) => c.id);
  const lost = was.filter((c) => !now.includes(c));
  const gained = now.filter((c) => !was.includes(c));
  if (lost.length > 0 || gained.length > 0 || plan.runs.length !== m.plannedRuns) {
    const why = lost.length ? `cells it cannot run now: ${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', ...' : ''}` : gained.length ? `cells it never planned: ${gained.slice(0, 3).join(', ')}` : `${plan.runs.length} runs instead of ${m.plannedRuns}`;
    throw new UsageError(`--resume ${dir}: this host or harness would plan another run (${why}); start a new run instead`);
  }
}
