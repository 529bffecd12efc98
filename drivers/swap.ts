// Memory overcommit needs somewhere for the overcommitted part to go: on a host without swap (or
// with too little) the harness adds a bounded swap file for the run and removes it after. Bounded
// so that it never fills the disk or lets an arena thrash for hours: at most the overcommitted
// memory, MAX_SWAP_BYTES, and a quarter of the free disk. A swap file rather than zram: zram
// keeps the swapped pages in RAM (compressed), so it would not give the overcommitted memory
// anywhere else to go on a host that is short of memory, and its size depends on the data.
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, statfsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { UnavailableError } from '../core/errors.ts';
import { STATE_DIR, pidAlive } from '../core/host.ts';

export const SWAP_DIR = join(STATE_DIR, 'swap');
const MiB = 1024 * 1024;
export const MAX_SWAP_BYTES = 8 * 1024 * MiB;
/** Below this a swap file is not worth making (mkswap's own minimum is far lower). */
const MIN_SWAP_BYTES = 16 * MiB;

/** SwapFree from /proc/meminfo text, bytes. */
export function parseSwapFree(meminfo: string): number {
  const kb = Number(meminfo.match(/^SwapFree:\s+(\d+) kB$/m)?.[1] ?? 0);
  return kb * 1024;
}

/**
 * Bytes of swap file to add for `neededBytes` of overcommitted memory, given the swap already
 * free and the free disk; 0 when none is needed or it would be too small to matter (pure).
 */
export function swapFileBytes(o: { neededBytes: number; swapFreeBytes: number; diskFreeBytes: number; capBytes?: number }): number {
  const missing = o.neededBytes - o.swapFreeBytes;
  if (missing <= 0) return 0;
  const bytes = Math.min(missing, o.capBytes ?? MAX_SWAP_BYTES, Math.floor(o.diskFreeBytes / 4));
  const rounded = Math.ceil(bytes / MiB) * MiB;
  return rounded < MIN_SWAP_BYTES ? 0 : rounded;
}

/** The swap file paths listed in /proc/swaps text. */
export function activeSwapFiles(procSwaps: string): string[] {
  return procSwaps
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export interface BoundedSwap {
  /** Swap the host has free for the run now (existing plus the file), bytes. */
  availableBytes: number;
  /** The harness's swap file, when one was made. */
  file?: string;
  fileBytes: number;
  /** swapoff + remove now (also registered with core/cleanup). */
  remove(): Promise<void>;
}

async function removeSwapFile(file: string): Promise<void> {
  if (activeSwapFiles(readFileSync('/proc/swaps', 'utf8')).includes(file)) {
    const r = await execa('swapoff', [file], { reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`swapoff ${file} failed: ${(r.all ?? '').trim()}`);
  }
  await rm(file, { force: true });
}

/** Make sure `neededBytes` of swap is free for the run: a bounded swap file where the host has too little. */
export async function ensureBoundedSwap(neededBytes: number, log: (line: string) => void): Promise<BoundedSwap> {
  const swapFree = parseSwapFree(readFileSync('/proc/meminfo', 'utf8'));
  await mkdir(SWAP_DIR, { recursive: true });
  const fs = statfsSync(SWAP_DIR);
  const fileBytes = swapFileBytes({ neededBytes, swapFreeBytes: swapFree, diskFreeBytes: fs.bavail * fs.bsize });
  if (fileBytes === 0) return { availableBytes: swapFree, fileBytes: 0, remove: async () => undefined };
  const file = join(SWAP_DIR, `vb-${process.pid}.swap`);
  const undo = onCleanup(`swap file ${file}`, () => removeSwapFile(file));
  try {
    for (const [cmd, args] of [
      ['fallocate', ['-l', String(fileBytes), file]],
      ['chmod', ['600', file]],
      ['mkswap', [file]],
      ['swapon', [file]],
    ] as const) {
      const r = await execa(cmd, [...args], { reject: false, all: true });
      // e.g. a file system without swap file support, or no CAP_SYS_ADMIN: the overcommit cannot be held
      if (r.exitCode !== 0) throw new UnavailableError(`memory overcommit needs ${(fileBytes / MiB).toFixed(0)} MiB more swap, but ${cmd} ${file} failed: ${(r.all ?? '').trim().split('\n').at(-1)}`);
    }
  } catch (err) {
    await undo();
    throw err;
  }
  log(`memory overcommit: the host had ${(swapFree / MiB).toFixed(0)} MiB of free swap; added a ${(fileBytes / MiB).toFixed(0)} MiB swap file ${file} for this run (removed at the end)`);
  return { availableBytes: swapFree + fileBytes, file, fileBytes, remove: undo };
}

/** Swap files a crashed earlier run left (their run's process is gone): swapoff and remove. */
export async function sweepSwapFiles(): Promise<string[]> {
  if (!existsSync(SWAP_DIR)) return [];
  const found: string[] = [];
  for (const name of readdirSync(SWAP_DIR)) {
    const pid = Number(name.match(/^vb-(\d+)\.swap$/)?.[1]);
    if (pid && pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid) continue;
    const file = join(SWAP_DIR, name);
    await removeSwapFile(file);
    found.push(`swap file ${file}`);
  }
  return found;
}
