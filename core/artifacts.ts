// Per-run artifacts: runs/<cell>#<rep>/ in the result directory holds what a reader needs to
// defend one number: the tool's raw output (or its tail), the exact commands and environment the
// measured process got, and the monitors' samples. Bounded: every file is capped (its tail is
// kept), so a paper-profile run cannot fill a disk. analyze, compare and figures never read them.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';

export const RUNS_DIR = 'runs';
/** Cap of one raw-output file: its last bytes are kept (a tool's summary is at its end). */
export const RAW_CAP = 64 * 1024;
/** Cap of command.json (scripts can be long: the workload's own guest-side scripts). */
export const COMMAND_CAP = 64 * 1024;

/** A cell id as one path component: every run of every cell gets its own directory. */
export function sanitizeCellId(cell: string): string {
  return cell.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** runs/<cell>#<rep> (warm-ups: #w<rep>), relative to the result directory. */
export function runArtifactsDir(cell: string, rep: number, warmup: boolean): string {
  return join(RUNS_DIR, `${sanitizeCellId(cell)}#${warmup ? 'w' : ''}${rep}`);
}

/** The last `cap` bytes of a text (cut at a line start), said so on its first line when cut. */
export function tail(text: string, cap: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= cap) return text;
  let kept = bytes.subarray(bytes.length - cap).toString('utf8');
  const nl = kept.indexOf('\n');
  if (nl >= 0 && nl < kept.length - 1) kept = kept.slice(nl + 1);
  return `[first ${bytes.length - Buffer.byteLength(kept)} of ${bytes.length} bytes cut; the tail follows]\n${kept}`;
}

/** A file name a workload may give its raw output (no directories, nothing hidden). */
export function safeArtifactName(name: string): string {
  const base = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '');
  return base || 'output.txt';
}

/** Create a run's artifacts directory; returns its absolute path. */
export function makeRunDir(resultDir: string, rel: string): string {
  const dir = join(resultDir, rel);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Write one capped artifact file atomically. */
export function writeArtifact(dir: string, name: string, text: string, cap = RAW_CAP): void {
  writeFileAtomic(join(dir, safeArtifactName(name)), tail(text, cap));
}
