// Loading a result directory for analysis (compare, baseline, figures, export): manifest.json +
// samples.jsonl, checked so that every mistake of the user is one UsageError line naming the file
// and line (a directory that is not a result directory, a samples.jsonl cut off by an interrupted
// run, a corrupt line), never a stack trace.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { MANIFEST, SAMPLES, readManifest, type Manifest } from '../core/results.ts';
import { runKey } from '../core/matrix.ts';
import type { Sample } from '../core/types.ts';
import { readSamplesJsonl } from './samples.ts';

export interface LoadOptions {
  /**
   * Accept an interrupted run (a cut-off last line of samples.jsonl, or fewer runs than the
   * manifest planned): the problem becomes a note instead of an error.
   */
  allowPartial?: boolean;
}

export interface LoadedRun {
  /** Absolute path of the result directory. */
  dir: string;
  manifest: Manifest;
  /** Every sample, warm-ups included, in file order. */
  samples: Sample[];
  /** Measured samples only (warm-ups dropped): what statistics are computed over. */
  measured: Sample[];
  /** Distinct runs recorded (warm-up and measured), for the completeness check. */
  runsRecorded: number;
  /** What was accepted only because of allowPartial (one sentence each). */
  notes: string[];
}

/**
 * Read and check a result directory. Throws UsageError when `dir` is not a result directory, when
 * its manifest is not a virtbench manifest, when a line of samples.jsonl is corrupt, and (unless
 * allowPartial) when the run was interrupted: a cut-off last line, or fewer runs than planned.
 * A run with no measured sample (an empty file, warm-ups only) is refused in every case.
 */
export async function loadRun(dir: string, opts: LoadOptions = {}): Promise<LoadedRun> {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new UsageError(`${dir}: no such directory`);
  if (!statSync(abs).isDirectory()) throw new UsageError(`${dir}: not a directory (expected a result directory with ${MANIFEST} and ${SAMPLES})`);
  if (!existsSync(join(abs, MANIFEST))) throw new UsageError(`${dir} is not a result directory: no ${MANIFEST}`);
  const manifest = readManifest(abs);
  const mfile = join(abs, MANIFEST);
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new UsageError(`${mfile}: not a virtbench manifest (not a JSON object)`);
  if (typeof manifest.suite !== 'string' || manifest.suite === '') throw new UsageError(`${mfile}: not a virtbench manifest (no "suite")`);
  if (manifest.format !== 1) throw new UsageError(`${mfile}: manifest format ${JSON.stringify(manifest.format)} is not supported (expected 1)`);

  const sfile = join(abs, SAMPLES);
  if (!existsSync(sfile)) throw new UsageError(`${dir} is not a complete result directory: no ${SAMPLES} (the run recorded nothing)`);
  // names the file and line of a corrupt or non-sample line (UsageError)
  const read = await readSamplesJsonl(sfile);
  const notes: string[] = [];
  if (read.ignoredLastLine !== undefined) {
    const msg = `${sfile}:${read.ignoredLastLine}: incomplete last line: the run was interrupted`;
    if (!opts.allowPartial) {
      throw new UsageError(`${msg}; finish it with 'npm run suite ${manifest.suite} -- --resume ${dir}', or pass --allow-partial`);
    }
    notes.push(`${msg} (line ignored)`);
  }
  const samples = read.samples;
  for (const [i, s] of samples.entries()) {
    if (s.suite !== manifest.suite) {
      throw new UsageError(`${sfile}: sample ${i + 1} belongs to suite '${s.suite}' but the manifest says '${manifest.suite}'`);
    }
  }
  const runs = new Set(samples.map((s) => runKey(s.cell, s.rep, s.warmup)));
  const planned = typeof manifest.plannedRuns === 'number' ? manifest.plannedRuns : undefined;
  if (planned !== undefined && runs.size < planned) {
    const msg = `${dir}: incomplete run: ${runs.size} of ${planned} planned runs recorded`;
    if (!opts.allowPartial) {
      throw new UsageError(`${msg}; finish it with 'npm run suite ${manifest.suite} -- --resume ${dir}', or pass --allow-partial`);
    }
    notes.push(msg);
  }
  const measured = samples.filter((s) => !s.warmup);
  // even an interrupted run must have measured something to be analyzed
  if (measured.length === 0) throw new UsageError(`${sfile}: no measured samples (only warm-ups or nothing)`);
  return { dir: abs, manifest, samples, measured, runsRecorded: runs.size, notes };
}

/** The host name a run's directory and baseline are filed under (as newResultDir spells it). */
export function hostKey(host: string): string {
  return host.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Host name recorded in a manifest ('unknown-host' when absent). */
export function runHost(m: Manifest): string {
  const h = (m as Partial<Manifest>).host?.hostname;
  return typeof h === 'string' && h !== '' ? h : 'unknown-host';
}
