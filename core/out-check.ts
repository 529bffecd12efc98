// Before a run starts, its output target must be usable: a directory that exists or can be
// created, writable, with room for the plan's samples. Found out after an hour of runs, a
// read-only or full disk costs the hour; found out here, it is one line and exit 2.
import { accessSync, constants, existsSync, statSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './errors.ts';

/**
 * Bytes a run adds to its result directory, for the free-space check. A run's sample lines are
 * about 1 KiB per metric (4 metrics at most); 32 KiB leaves room for per-run records beside them.
 */
export const RESULT_BYTES_PER_RUN = 32 * 1024;
/** manifest.json, summary.csv, compare reports: written once per run directory. */
export const RESULT_BYTES_FIXED = 256 * 1024;

export function resultBytes(runs: number): number {
  return RESULT_BYTES_FIXED + runs * RESULT_BYTES_PER_RUN;
}

function human(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : bytes >= 1024 ** 2 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

/**
 * `what` (e.g. '--out results') names the option in the message. `files` inside the target that
 * must be writable too (samples.jsonl of a resumed run). Throws UsageError naming the problem.
 */
export function checkOutputTarget(what: string, path: string, bytesNeeded: number, files: string[] = []): void {
  let p = resolve(path);
  // the nearest existing directory is where the new ones will be created
  while (!existsSync(p)) {
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  let isDir: boolean;
  try {
    isDir = statSync(p).isDirectory();
  } catch (err) {
    throw new UsageError(`${what}: cannot use ${p}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isDir) throw new UsageError(`${what}: ${p} is not a directory`);
  for (const target of [p, ...files.filter((f) => existsSync(f))]) {
    try {
      accessSync(target, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(`${what}: ${target} ${code === 'EROFS' ? 'is on a read-only file system' : `is not writable (${code})`}`);
    }
  }
  const fs = statfsSync(p);
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (free < bytesNeeded) throw new UsageError(`${what}: ${human(free)} free on the file system of ${p}; this plan needs about ${human(bytesNeeded)}`);
}
