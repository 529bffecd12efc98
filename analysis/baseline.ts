// Accepted baselines: results/baselines/<suite>/<host>/ holds a *copy* of the accepted result
// directory (manifest.json, samples.jsonl, summary.csv), accepted.json saying where it came from,
// tolerance.txt (kept across accepts) and history/<stamp>/ with the baselines it replaced.
//
// A copy rather than a pointer: the nightly job prunes old runs, people move and delete result
// directories, and a baseline must stay exactly what was accepted. A result directory is small
// (kilobytes to a few megabytes), so the copy costs nothing, and the baseline directory is itself a
// result directory that compare, figures and export read like any other.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { UsageError } from '../core/errors.ts';
import { MANIFEST, SAMPLES, stamp } from '../core/results.ts';
import { hostKey, loadRun, runHost, type LoadOptions } from './resultdir.ts';
import { namesOf } from './compare.ts';
import { TOLERANCE_FILE, toleranceTemplate } from './tolerance.ts';

export const BASELINES = 'baselines';
export const ACCEPTED = 'accepted.json';
const COPIED = [MANIFEST, SAMPLES, 'summary.csv'];

export interface AcceptedInfo {
  suite: string;
  host: string;
  /** The result directory that was copied. */
  source: string;
  acceptedAt: string;
  /** When the accepted run was made (its manifest's 'created'). */
  runCreated: string;
  commit: string;
  note?: string;
}

/** Where the baseline of a suite on a host lives (whether or not one was accepted). */
export function baselineDir(suite: string, host: string, root = 'results'): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(suite)) throw new UsageError(`'${suite}' is not a suite name`);
  return resolve(root, BASELINES, suite, hostKey(host));
}

/**
 * The accepted baseline of `suite` on `host`: a result directory to compare against. Throws
 * UsageError saying how to accept one when there is none.
 */
export function resolveBaseline(suite: string, host: string, root = 'results'): string {
  const dir = baselineDir(suite, host, root);
  if (!existsSync(join(dir, MANIFEST)) || !existsSync(join(dir, SAMPLES))) {
    throw new UsageError(`no accepted baseline for suite '${suite}' on host '${host}' (looked in ${dir}); accept a run with 'npm run baseline accept <result dir>'`);
  }
  return dir;
}

export interface AcceptResult {
  dir: string;
  info: AcceptedInfo;
  /** Where the replaced baseline went, if there was one. */
  replaced?: string;
  /** True when a tolerance.txt template was written (a first accept). */
  toleranceCreated: boolean;
}

/**
 * Record `source` as the accepted baseline of its suite and host. The run must be complete (unless
 * opts.allowPartial). An existing baseline moves to history/<stamp>/; tolerance.txt is kept, or a
 * commented template is written on the first accept.
 */
export async function acceptBaseline(source: string, opts: LoadOptions & { root?: string; note?: string; now?: Date } = {}): Promise<AcceptResult> {
  const run = await loadRun(source, opts);
  const suite = run.manifest.suite;
  const host = runHost(run.manifest);
  const dir = baselineDir(suite, host, opts.root);
  const now = opts.now ?? new Date();
  mkdirSync(dir, { recursive: true });

  // copy into a fresh directory first, so that a failure leaves the old baseline untouched
  const tmp = join(dir, `.incoming-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  for (const f of COPIED) if (existsSync(join(run.dir, f))) copyFileSync(join(run.dir, f), join(tmp, f));
  const info: AcceptedInfo = {
    suite,
    host,
    source: run.dir,
    acceptedAt: now.toISOString(),
    runCreated: typeof run.manifest.created === 'string' ? run.manifest.created : '',
    commit: run.manifest.harness?.commit ?? 'unknown',
    ...(opts.note ? { note: opts.note } : {}),
  };
  writeFileSync(join(tmp, ACCEPTED), JSON.stringify(info, null, 2) + '\n');

  let replaced: string | undefined;
  if (existsSync(join(dir, MANIFEST))) {
    replaced = join(dir, 'history', stamp(now));
    mkdirSync(replaced, { recursive: true });
    for (const f of [...COPIED, ACCEPTED]) if (existsSync(join(dir, f))) renameSync(join(dir, f), join(replaced, f));
  }
  for (const f of [...COPIED, ACCEPTED]) if (existsSync(join(tmp, f))) renameSync(join(tmp, f), join(dir, f));
  rmSync(tmp, { recursive: true, force: true });

  let toleranceCreated = false;
  if (!existsSync(join(dir, TOLERANCE_FILE))) {
    writeFileAtomic(join(dir, TOLERANCE_FILE), toleranceTemplate(namesOf(run).metrics));
    toleranceCreated = true;
  }
  return replaced ? { dir, info, replaced, toleranceCreated } : { dir, info, toleranceCreated };
}

export interface BaselineEntry {
  suite: string;
  host: string;
  dir: string;
  info?: AcceptedInfo;
}

/** Every accepted baseline under `root`. */
export function listBaselines(root = 'results'): BaselineEntry[] {
  const base = resolve(root, BASELINES);
  if (!existsSync(base)) return [];
  const out: BaselineEntry[] = [];
  for (const suite of readdirSync(base).sort()) {
    const sdir = join(base, suite);
    let hosts: string[];
    try {
      hosts = readdirSync(sdir).sort();
    } catch {
      continue;
    }
    for (const host of hosts) {
      const dir = join(sdir, host);
      if (!existsSync(join(dir, MANIFEST))) continue;
      let info: AcceptedInfo | undefined;
      try {
        info = JSON.parse(readFileSync(join(dir, ACCEPTED), 'utf8')) as AcceptedInfo;
      } catch {
        info = undefined;
      }
      out.push(info ? { suite, host, dir, info } : { suite, host, dir });
    }
  }
  return out;
}
