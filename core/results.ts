// The result directory: manifest.json (enough to say what was measured, where, and how to run it
// again) and samples.jsonl (one line per metric per run, appended and fsynced as each run ends).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './errors.ts';
import type { HostFacts } from './host.ts';
import type { RunOptions } from './options.ts';
import type { Cell, Profile, Sample } from './types.ts';

export const MANIFEST = 'manifest.json';
export const SAMPLES = 'samples.jsonl';

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
  adaptive?: import('../analysis/adaptive.ts').AdaptiveRecord[];
  /** --compare-to: cells compare suspected and re-ran before its verdict. */
  recheck?: { cells: string[]; extraReps: number };
  /** VM guests' kernel mitigations: the choice, the arguments the guests got, and the host's own state. */
  guestMitigations?: { choice: string; args: string; label: string; hostVulnerabilities: Record<string, string> };
  /** Monitors beside the measured runs: whether on, their interval, and which sources this host offers. */
  monitors?: { enabled: boolean; intervalS?: number; sources?: Record<string, string> };
  /** Host CPUs the measured guests are pinned to, and where the harness itself ran ('all': it shared them). */
  harnessCpus?: { measured: number[]; harness: number[] | 'all'; note?: string };
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
  const tmp = join(dir, `${MANIFEST}.tmp`);
  writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n');
  renameSync(tmp, join(dir, MANIFEST));
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

export class SampleWriter {
  private readonly fd: number;
  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }
  /** One run's samples in one write, then fsync: a crash loses at most the run in progress. */
  append(samples: Sample[]): void {
    if (samples.length === 0) return;
    writeSync(this.fd, samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
    fsyncSync(this.fd);
  }
  close(): void {
    closeSync(this.fd);
  }
}
