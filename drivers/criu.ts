// CRIU (checkpoint/restore in userspace), probed honestly: `criu check`, then a real dump and
// restore of a small process (a counter in its own session, under a temporary directory) that must
// count on after the restore. Where CRIU fails (Debian 12's CRIU 3.17 on Linux 6.18 cannot parse
// the new vDSO layout), the verdict is one line taken from CRIU's own output, and every
// checkpoint, migration and clone cell says so instead of running. Probed once per process.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { errorMessage } from '../core/errors.ts';
import { STATE_DIR, pidAlive } from '../core/host.ts';

export const CRIU = 'criu';
/** Every CRIU command is bounded: a hung dump must not hold a run. */
export const CRIU_TIMEOUT_MS = 30_000;

export interface CriuVerdict {
  ok: boolean;
  /** One line, from CRIU's own output, when ok is false. */
  reason?: string;
  /** e.g. '3.17.1'. */
  version?: string;
  /** `criu check --feature mem_dirty_track`: pre-dumps (iterative migration) only send what changed. */
  dirtyTracking?: boolean;
}

/** `criu --version` text: its version number. */
export function parseCriuVersion(text: string): string | undefined {
  return text.match(/^Version:\s*(\S+)/m)?.[1];
}

/**
 * The line of CRIU's output (a log or its stderr) that says what went wrong: its first `Error`
 * line without the log's timestamp, else its last non-empty line.
 */
export function criuError(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.replace(/^\(\s*\d+\.\d+\)\s*/, '').trim()).filter(Boolean);
  return lines.find((l) => /^Error\b/.test(l)) ?? lines.at(-1);
}

/** The one-line verdict of a failed CRIU step. */
export function criuReason(step: string, output: string, version: string | undefined, kernel = release()): string {
  const what = criuError(output) ?? 'no output';
  return `${step} failed (CRIU ${version ?? '?'}, Linux ${kernel}): ${what}`.replace(/\s+/g, ' ');
}

/** `criu dump` of a process tree (pid: its root) into dir. */
export function criuDumpArgs(o: { pid: number; dir: string; log: string; leaveRunning: boolean }): string[] {
  return ['dump', '--tree', String(o.pid), '--images-dir', o.dir, '--log-file', o.log, '-v4', ...(o.leaveRunning ? ['--leave-running'] : [])];
}

/** `criu restore` of the images in dir, detached, writing the restored tree's root pid to pidfile. */
export function criuRestoreArgs(o: { dir: string; log: string; pidfile: string }): string[] {
  return ['restore', '--images-dir', o.dir, '--log-file', o.log, '-v4', '--restore-detached', '--pidfile', o.pidfile];
}

async function logText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readCounter(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function kill(pid: number | undefined): void {
  if (pid === undefined || !(pid > 0)) return;
  try {
    process.kill(-pid, 'SIGKILL'); // its session's process group (it is the leader)
  } catch {
    /* gone */
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** A counter in its own session, dumped (stopped), restored, and seen counting again. */
async function dumpAndRestore(version: string | undefined): Promise<string | undefined> {
  await mkdir(STATE_DIR, { recursive: true });
  const tmp = await mkdtemp(join(STATE_DIR, 'criu-probe-'));
  const counter = join(tmp, 'counter');
  const images = join(tmp, 'images');
  await mkdir(images);
  let pid: number | undefined;
  const undo = onCleanup('CRIU probe process and images', async () => {
    kill(pid);
    await rm(tmp, { recursive: true, force: true });
  });
  try {
    // detached: node makes it a session leader (setsid), as CRIU wants a tree it can dump whole
    const child = spawn('sh', ['-c', 'i=0; while :; do i=$((i+1)); echo $i > "$0"; sleep 0.05; done', counter], { stdio: 'ignore', detached: true });
    child.unref();
    pid = child.pid;
    for (let i = 0; i < 100 && readCounter(counter) === 0; i++) await sleep(20);
    if (pid === undefined || readCounter(counter) === 0) return 'the CRIU probe could not start its counter process';
    const dumpLog = join(images, 'dump.log');
    const dump = await execa(CRIU, criuDumpArgs({ pid, dir: images, log: dumpLog, leaveRunning: false }), { reject: false, all: true, timeout: CRIU_TIMEOUT_MS });
    if (dump.exitCode !== 0) return criuReason(dump.timedOut ? 'criu dump (timed out)' : 'criu dump', (await logText(dumpLog)) || (dump.all ?? ''), version);
    if (pidAlive(pid)) return 'criu dump returned but the dumped process still runs';
    const restoreLog = join(images, 'restore.log');
    const pidfile = join(tmp, 'restored.pid');
    const restore = await execa(CRIU, criuRestoreArgs({ dir: images, log: restoreLog, pidfile }), { reject: false, all: true, timeout: CRIU_TIMEOUT_MS });
    const restored = Number((await readFile(pidfile, 'utf8').catch(() => '')).trim());
    if (restored > 0) pid = restored;
    if (restore.exitCode !== 0) return criuReason(restore.timedOut ? 'criu restore (timed out)' : 'criu restore', (await logText(restoreLog)) || (restore.all ?? ''), version);
    const before = readCounter(counter);
    for (let i = 0; i < 50 && readCounter(counter) <= before; i++) await sleep(20);
    if (readCounter(counter) <= before) return `criu restore returned but the restored process does not run (counter stayed at ${before})`;
    return undefined;
  } finally {
    await undo();
  }
}

/** The probe itself, uncached (tests; everything else uses criuVerdict()). */
export async function probeCriu(): Promise<CriuVerdict> {
  const v = await execa(CRIU, ['--version'], { reject: false, all: true, timeout: 10_000 });
  if (v.exitCode !== 0) return { ok: false, reason: 'CRIU is not installed (apt-get install criu)' };
  const version = parseCriuVersion(v.stdout);
  // run from / : criu check may leave a log in its working directory
  const check = await execa(CRIU, ['check'], { reject: false, all: true, timeout: CRIU_TIMEOUT_MS, cwd: '/' });
  if (check.exitCode !== 0) return { ok: false, version, reason: criuReason(check.timedOut ? 'criu check (timed out)' : 'criu check', check.all ?? '', version) };
  try {
    const why = await dumpAndRestore(version);
    if (why) return { ok: false, version, reason: why };
  } catch (err) {
    return { ok: false, version, reason: `CRIU probe: ${errorMessage(err)}` };
  }
  const dirty = await execa(CRIU, ['check', '--feature', 'mem_dirty_track'], { reject: false, timeout: CRIU_TIMEOUT_MS, cwd: '/' });
  return { ok: true, version, dirtyTracking: dirty.exitCode === 0 };
}

let cached: Promise<CriuVerdict> | undefined;

/** CRIU's verdict on this host, probed once per process. */
export function criuVerdict(): Promise<CriuVerdict> {
  cached ??= probeCriu();
  return cached;
}

/** What a killed run's CRIU probe left: its counter process (its command line names its directory) and the directory. */
export async function sweepCriuProbe(): Promise<string[]> {
  const found: string[] = [];
  let dirs: string[] = [];
  try {
    dirs = readdirSync(STATE_DIR).filter((n) => n.startsWith('criu-probe-')).map((n) => join(STATE_DIR, n));
  } catch {
    return found;
  }
  if (dirs.length === 0) return found;
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (dirs.some((d) => cmd.includes(`${d}/`)) && Number(p) !== process.pid) {
      kill(Number(p));
      found.push(`CRIU probe process ${p}`);
    }
  }
  for (const d of dirs) {
    await rm(d, { recursive: true, force: true });
    found.push(`CRIU probe directory ${d}`);
  }
  return found;
}
