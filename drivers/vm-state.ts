// The pieces of a VM's saved and moved state that do not depend on a running guest: what a
// checkpoint directory holds and who wrote it (its stamp), the room it needs, QEMU's migration
// progress turned into MigrationStats, and the migration loop itself over QMP.
import { execa } from 'execa';
import { constants, existsSync, readFileSync, statfsSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gitCommit } from '../core/host.ts';
import { writeFileAtomic } from '../core/atomic.ts';
import type { Checkpoint, MigrationStats } from '../core/types.ts';
import { QmpError, type QmpClient } from './qmp.ts';

/** The files of a VM checkpoint directory. */
export const CHECKPOINT_FILES = { memory: 'memory.state', disk: 'disk.qcow2', meta: 'checkpoint.json', log: 'migrate.err' } as const;

/** What checkpoint.json says, beside the Checkpoint itself: what a restore must rebuild. */
export interface VmCheckpointMeta {
  checkpoint: Omit<Checkpoint, 'dir'>;
  source: string;
  vcpus: number;
  memoryBytes: number;
  /** The source agent's next command id: a restored guest's commands start there. */
  agentFirstId: number;
}

let stamp: Promise<Checkpoint['stamp']> | undefined;

/** Who writes (and may restore) a checkpoint in this process: the harness commit, the host kernel, QEMU's version. */
export function checkpointStamp(qemuVersion: string): Promise<Checkpoint['stamp']> {
  stamp ??= (async () => {
    const repo = fileURLToPath(new URL('..', import.meta.url));
    const g = await gitCommit(repo);
    const kernel = (await execa('uname', ['-r'])).stdout.trim();
    return { harness: `${g.commit}${g.dirty ? '+dirty' : ''}`, kernel, tool: `qemu ${qemuVersion}` };
  })();
  return stamp;
}

/** Why a stamp may not be restored here (one line), or undefined when it may. */
export function stampMismatch(cp: Checkpoint['stamp'], here: Checkpoint['stamp']): string | undefined {
  for (const k of ['harness', 'kernel', 'tool'] as const) {
    if (cp[k] !== here[k]) return `the checkpoint was written by ${k} ${cp[k]}, this is ${here[k]}: not restorable here`;
  }
  return undefined;
}

/**
 * Before a guest is stopped for a checkpoint: the directory must be writable and have room for
 * what may be written (the guest's RAM at most, plus its disk layer). Throws naming the cause.
 */
export async function checkRoom(dir: string, needBytes: number, statfs = statfsSync): Promise<void> {
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`checkpoint directory ${dir} is not writable: ${code === 'EROFS' ? 'read-only file system' : code === 'ENOENT' ? 'it does not exist' : (code ?? String(err))}`);
  }
  const s = statfs(dir);
  const free = Number(s.bavail) * Number(s.bsize);
  if (free < needBytes) throw new Error(`checkpoint directory ${dir} has ${mib(free)} MiB free, a checkpoint of this guest may need ${mib(needBytes)} MiB (no space left)`);
}

const mib = (b: number) => Math.round(b / 1024 ** 2);

export async function writeMeta(dir: string, meta: VmCheckpointMeta): Promise<void> {
  await writeFileAtomic(join(dir, CHECKPOINT_FILES.meta), `${JSON.stringify(meta, null, 1)}\n`);
}

/** The checkpoint's own description; a missing file or directory is one line. */
export async function readMeta(dir: string): Promise<VmCheckpointMeta> {
  for (const f of [CHECKPOINT_FILES.meta, CHECKPOINT_FILES.memory, CHECKPOINT_FILES.disk]) {
    if (!existsSync(join(dir, f))) throw new Error(`checkpoint ${dir} is incomplete: ${f} is missing`);
  }
  return JSON.parse(await readFile(join(dir, CHECKPOINT_FILES.meta), 'utf8')) as VmCheckpointMeta;
}

/** What query-migrate returns (the fields used here). */
export interface MigrateInfo {
  status?: string;
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  'setup-time'?: number;
  'error-desc'?: string;
  'blocked-reasons'?: string[];
  ram?: {
    transferred?: number;
    total?: number;
    remaining?: number;
    duplicate?: number;
    normal?: number;
    'normal-bytes'?: number;
    'dirty-sync-count'?: number;
    mbps?: number;
    'dirty-pages-rate'?: number;
    'pages-per-second'?: number;
  };
}

/** A completed migration's figures: the host's wall time to the guest running at the destination, QEMU's own for the rest. */
export function migrationStats(info: MigrateInfo, wallS: number): MigrationStats {
  const ram = info.ram ?? {};
  const detail: Record<string, number | string> = {};
  const put = (k: string, v: number | undefined) => {
    if (typeof v === 'number') detail[k] = v;
  };
  put('qemuTotalMs', info['total-time']);
  put('setupMs', info['setup-time']);
  put('dirtySyncCount', ram['dirty-sync-count']);
  put('mbps', ram.mbps);
  put('zeroPages', ram.duplicate);
  put('normalPages', ram.normal);
  put('dirtyPagesRate', ram['dirty-pages-rate']);
  return {
    totalS: wallS,
    downtimeMs: info.downtime ?? 0,
    bytes: ram.transferred ?? 0,
    ...(ram.total !== undefined ? { memoryBytes: ram.total } : {}),
    detail,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why an outgoing migration cannot start (QEMU's own blockers, e.g. a mounted 9p export), or undefined. */
export async function migrationBlocked(qmp: QmpClient): Promise<string | undefined> {
  const info = await qmp.execute<MigrateInfo>('query-migrate');
  const why = info['blocked-reasons'];
  return why?.length ? why.join('; ').replace(/\s+/g, ' ') : undefined;
}

/**
 * Start a migration to `uri` and follow it until it completes. Not done within timeoutS, or
 * aborted: cancelled (the source goes on), and an error. Failed: QEMU's reason, or `failedWhy()`.
 */
export async function runMigration(qmp: QmpClient, uri: string, o: { timeoutS: number; signal?: AbortSignal; pollMs?: number; failedWhy?: () => string | undefined }): Promise<MigrateInfo> {
  try {
    await qmp.execute('migrate', { uri });
  } catch (err) {
    throw new Error(err instanceof QmpError ? `QEMU refused to migrate: ${err.desc}` : String(err));
  }
  const deadline = Date.now() + o.timeoutS * 1000;
  for (;;) {
    const info = await qmp.execute<MigrateInfo>('query-migrate');
    if (info.status === 'completed') return info;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new Error(`migration ${info.status}: ${o.failedWhy?.() ?? info['error-desc'] ?? 'QEMU gave no reason'}`);
    }
    if (Date.now() > deadline || o.signal?.aborted) {
      const why = o.signal?.aborted ? 'aborted' : `did not converge within ${o.timeoutS} s (${info.ram?.remaining ?? '?'} bytes left, ${info.ram?.['dirty-sync-count'] ?? '?'} passes)`;
      await cancelMigration(qmp);
      throw new Error(`migration ${why}; cancelled, the guest runs on at the source`);
    }
    await sleep(o.pollMs ?? 50);
  }
}

/** migrate_cancel, then wait until QEMU says it is over (the source runs again). */
export async function cancelMigration(qmp: QmpClient): Promise<void> {
  await qmp.execute('migrate_cancel').catch(() => undefined);
  for (let i = 0; i < 200; i++) {
    const s = (await qmp.execute<MigrateInfo>('query-migrate').catch(() => ({}) as MigrateInfo)).status;
    if (s !== 'active' && s !== 'cancelling' && s !== 'setup' && s !== 'device') return;
    await sleep(50);
  }
}

/** Wait until QEMU leaves the incoming state (a restore or migration destination has all its state). */
export async function waitIncomingDone(qmp: QmpClient, timeoutMs: number, dead: () => string | undefined): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = dead();
    if (why) throw new Error(why);
    const s = await qmp.status();
    if (s !== 'inmigrate') return s;
    if (Date.now() > deadline) throw new Error(`QEMU was still loading the guest's state after ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** The last line of a file QEMU's migration command wrote its errors to (e.g. "No space left on device"). */
export function lastLine(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').trim().split('\n').at(-1)?.trim() || undefined;
}
