// The result directory: manifest.json (enough to say what was measured, where, and how to run it
// again) and samples.jsonl (one line per metric per run, appended and fsynced as each run ends).
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { writeFileAtomic } from './atomic.ts';
import { runKey } from './matrix.ts';
import { join } from 'node:path';
import { UsageError } from './errors.ts';
import type { HostFacts } from './host.ts';
import type { RunOptions } from './options.ts';
import { PROFILE_NAMES } from './profiles.ts';
import type { Capabilities, Cell, Profile, Sample } from './types.ts';
import type { ShardRecord } from './shard.ts';
import type { MergeRecord } from './merge-record.ts';

export const MANIFEST = 'manifest.json';
export const SAMPLES = 'samples.jsonl';

/** Why --reps auto gave a cell more than its initial repetitions (analysis/adaptive.ts decides). */
export type AdaptiveReason = 'cv' | 'outlier' | 'cap reached';

/** What the manifest records per cell of a --reps auto run (or a --compare-to re-check). */
export interface AdaptiveRecord {
  cell: string;
  reps: number;
  cap: number;
  /** Why it got more than the initial repetitions ([] = settled at them). */
  reasons: AdaptiveReason[];
  detail: string;
}

export interface Manifest {
  format: 1;
  suite: string;
  created: string;
  command: string;
  options: RunOptions;
  profile: Profile;
  platforms: string[];
  accel: Record<string, string>;
  /** Per platform: the run timeout its runs had (longer under TCG unless --timeout was given). */
  runTimeoutS?: Record<string, number>;
  /** What the harness changed from what was asked, and why (e.g. vCPUs reduced to fit the host). */
  adjustments: string[];
  cells: Cell[];
  plannedRuns: number;
  host: HostFacts;
  tools: Record<string, string>;
  harness: { commit: string; dirty: boolean };
  /** Host settings that limit what a number means (e.g. an I/O scheduler that ignores weights). */
  caveats: string[];
  /** --reps auto: per cell, the repetitions it got and why (cv, outlier, cap reached). */
  adaptive?: AdaptiveRecord[];
  /** --compare-to: cells compare suspected and re-ran before its verdict. */
  recheck?: { cells: string[]; extraReps: number };
  /** VM guests' kernel mitigations: the choice, the arguments the guests got, and the host's own state. */
  guestMitigations?: { choice: string; args: string; label: string; hostVulnerabilities: Record<string, string> };
  /** Monitors beside the measured runs: whether on, their interval, and which sources this host offers. */
  monitors?: { enabled: boolean; intervalS?: number; sources?: Record<string, string> };
  /** Host CPUs the measured guests are pinned to, and where the harness itself ran ('all': it shared them). */
  harnessCpus?: { measured: number[]; harness: number[] | 'all'; note?: string };
  /** --shard i/N: which part of the whole plan this run is (cells and plannedRuns above are the shard's). */
  shard?: ShardRecord;
  /** npm run merge: the shards this result directory was merged from (analysis/merge.ts). */
  merge?: MergeRecord;
  /** Issue 12: per platform, what its capability probe found (pause, checkpoint, migrate, clone: ok, reason, how). */
  capabilities?: Record<string, Capabilities>;
}

export function stamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

export function newResultDir(root: string, suite: string, host: string): string {
  const dir = join(root, suite, `${stamp()}-${host.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function writeManifest(dir: string, m: Manifest): void {
  writeFileAtomic(join(dir, MANIFEST), JSON.stringify(m, null, 2) + '\n');
}

/**
 * A manifest --resume may continue: its format, its suite, a profile this harness knows, and a
 * profile record that agrees with the options it was made from (an edited manifest would mix runs
 * of another size into the directory). One UsageError line otherwise.
 */
export function checkResumable(m: Manifest, suite: string, file: string): void {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new UsageError(`${file}: not a virtbench manifest (not a JSON object)`);
  if (m.format !== 1) throw new UsageError(`${file}: manifest format ${JSON.stringify(m.format)} is not supported by this harness (expected 1)`);
  if (m.suite !== suite) throw new UsageError(`${file} holds a '${String(m.suite)}' run, not '${suite}'`);
  const o = m.options as Partial<RunOptions> | undefined;
  if (typeof o !== 'object' || o === null) throw new UsageError(`${file}: no "options": cannot tell how to continue this run`);
  if (typeof o.profile !== 'string' || !(PROFILE_NAMES as string[]).includes(o.profile)) {
    throw new UsageError(`${file}: unknown profile ${JSON.stringify(o.profile)}; valid: ${PROFILE_NAMES.join(', ')}`);
  }
  const p = m.profile as Partial<Profile> | undefined;
  const mismatch = (['reps', 'warmup', 'timeoutS', 'pidsMax'] as const).filter((k) => p?.[k] !== o[k]);
  if (p?.name !== o.profile || mismatch.length > 0) {
    throw new UsageError(`${file}: "profile" (${String(p?.name)}) disagrees with "options" (${o.profile}${mismatch.length ? `; ${mismatch.join(', ')} differ` : ''}): the manifest was edited; refusing to mix runs`);
  }
  for (const k of ['reps', 'warmup', 'timeoutS', 'seed', 'vcpus', 'memoryBytes', 'pidsMax'] as const) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new UsageError(`${file}: options.${k} is not a number`);
  }
  if (m.merge) throw new UsageError(`${file}: a merge of shard runs; resume the shard directory that is incomplete (its path is in "merge.shards"), then merge again`);
  if (!Array.isArray(m.cells) || typeof m.plannedRuns !== 'number') throw new UsageError(`${file}: no "cells" or "plannedRuns": not a run this harness can resume`);
}

export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new UsageError(`${dir} is not a result directory: no ${MANIFEST}`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Appends one run's lines as one unit. O_APPEND keeps every write at the end; writeSync may write
 * fewer bytes than asked (a full disk, a signal), so the count it returns is checked and the rest
 * written in a loop. When a write fails part-way, the file is cut back to where this run began, so
 * samples.jsonl only ever holds whole runs; the error is then thrown (never reported as "ok").
 */
export class SampleWriter {
  private readonly fd: number;
  private size: number;
  constructor(
    readonly file: string,
    /** Tests inject a writeSync that fails or writes short, to check the writer's handling. */
    private readonly write: (fd: number, buf: Uint8Array, off: number, len: number) => number = (fd, buf, off, len) => writeSync(fd, buf, off, len),
  ) {
    this.fd = openSync(file, 'a');
    this.size = fstatSync(this.fd).size;
  }
  /** One run's samples, then fsync: a crash loses at most the run in progress. */
  append(samples: Sample[]): void {
    if (samples.length === 0) return;
    const bytes = Buffer.from(samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
    try {
      for (let off = 0; off < bytes.length; ) {
        const n = this.write(this.fd, bytes, off, bytes.length - off);
        if (!(n > 0)) throw Object.assign(new Error(`${this.file}: write made no progress (${off} of ${bytes.length} bytes written; disk full?)`), { code: 'ENOSPC' });
        off += n;
      }
      fsyncSync(this.fd);
    } catch (err) {
      // take back the part of this run that did get written; if even that fails, --resume repairs it
      try {
        ftruncateSync(this.fd, this.size);
        fsyncSync(this.fd);
      } catch {
        /* the tail stays torn: repairSamples() removes it before the next append */
      }
      throw err;
    }
    this.size += bytes.length;
  }
  close(): void {
    closeSync(this.fd);
  }
}

export interface Repair {
  /** Runs whose every metric line is present. */
  done: Set<string>;
  /** What was removed, one phrase each (empty: nothing to repair). */
  removed: string[];
}

/**
 * Before --resume appends: make samples.jsonl end with the last complete run. A cut-off last line
 * (a crash or a full disk mid-write) is cut away, and so are the lines of any run that lacks one
 * of its workload's metric lines (`metricsOf(workload)`), so that run is measured again. Any other
 * line that is not JSON is not something a crash leaves: refused as UsageError. Lines to drop at
 * the end are truncated in place; elsewhere the file is rewritten atomically. `write: false` only
 * says what would be done (a dry run).
 */
export function repairSamples(file: string, metricsOf: (workload: string) => string[] | undefined, opts: { write?: boolean } = {}): Repair {
  const done = new Set<string>();
  if (!existsSync(file)) return { done, removed: [] };
  const buf = readFileSync(file);
  const lastNl = buf.lastIndexOf(0x0a);
  const whole = lastNl < 0 ? 0 : lastNl + 1;
  const removed: string[] = [];
  if (whole < buf.length) removed.push(`a cut-off last line (${buf.length - whole} bytes)`);
  const lines = buf.subarray(0, whole).toString('utf8').split('\n').slice(0, -1);
  const parsed: (Sample | undefined)[] = lines.map((line, i) => {
    if (line.trim() === '') return undefined;
    try {
      return JSON.parse(line) as Sample;
    } catch {
      throw new UsageError(`${file}:${i + 1}: corrupt line (not JSON) that no interrupted write leaves; cannot resume safely`);
    }
  });
  const metrics = new Map<string, Set<string>>();
  for (const s of parsed) {
    if (!s) continue;
    const k = runKey(s.cell, s.rep, s.warmup);
    const set = metrics.get(k) ?? new Set<string>();
    set.add(s.metric);
    metrics.set(k, set);
  }
  const complete = new Set<string>();
  for (const s of parsed) {
    if (!s) continue;
    const k = runKey(s.cell, s.rep, s.warmup);
    const want = metricsOf(s.workload);
    if (!want || want.every((m) => metrics.get(k)!.has(m))) complete.add(k);
  }
  const keep = parsed.map((s) => s !== undefined && complete.has(runKey(s.cell, s.rep, s.warmup)));
  const partial = [...metrics.keys()].filter((k) => !complete.has(k));
  if (partial.length > 0) removed.push(`${partial.length} run(s) with missing metric lines, to run again: ${partial.join(', ')}`);
  for (const k of complete) done.add(k);
  if (removed.length === 0 || opts.write === false) return { done, removed };
  const firstDropped = keep.findIndex((k, i) => !k && parsed[i] !== undefined);
  const tailOnly = firstDropped < 0 || keep.slice(firstDropped).every((k) => !k);
  if (tailOnly) {
    // every line to drop is at the end: cut the file there
    const upTo = firstDropped < 0 ? lines.length : firstDropped;
    const bytes = lines.slice(0, upTo).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    const fd = openSync(file, 'r+');
    try {
      ftruncateSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } else {
    const text = lines.filter((l, i) => keep[i] || l.trim() === '').filter((l) => l.trim() !== '').map((l) => l + '\n').join('');
    writeFileAtomic(file, text);
  }
  return { done, removed };
}
