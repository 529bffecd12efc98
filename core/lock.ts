// The host lock: one harness run at a time per host. Only node: imports, so that a process that
// only needs the lock (a test starting twenty at once) loads fast.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { UnavailableError } from './errors.ts';

/** One harness run per host; tests that run harnesses side by side with their own state may name another. */
export const LOCK_FILE = process.env.VIRTBENCH_LOCK ?? '/run/virtbench.lock';
/** Exit code of `flock -n` when another process holds the lock. */
const LOCK_BUSY = 75;

/**
 * One harness run at a time per host: concurrent runs would measure each other.
 *
 * The lock is flock(2) on LOCK_FILE, which the kernel holds for an open file and drops when the
 * last descriptor closes, however its holder dies. Node has no flock(2), so a small child holds it:
 * `flock -n FILE sh -c 'echo locked; exec cat'`, whose stdin is a pipe from this process. When
 * this process exits, even by SIGKILL, the kernel closes the pipe, cat reads EOF and exits, and the
 * lock goes with it. So no lock is ever stale, two runs can never both hold it (the kernel decides,
 * atomically), and the file is never deleted (deleting a locked file would let the next run lock a
 * new inode beside a live holder). Chosen over a native npm addon (a compiler at install time for one
 * system call) and over O_EXCL + pid (a stale lock must then be taken over, which is a race, and pids
 * are reused). The child gets its own session, so a Ctrl-C on the terminal reaches the harness but
 * not the lock: the lock is held until cleanup has finished and the harness exits.
 */
export async function acquireLock(): Promise<() => Promise<void>> {
  const child = spawn('flock', ['-n', '-E', String(LOCK_BUSY), LOCK_FILE, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const got = await new Promise<'locked' | { code: number | null; error?: Error }>((resolve) => {
    child.stdout.once('data', () => resolve('locked'));
    child.once('exit', (code) => resolve({ code }));
    child.once('error', (error) => resolve({ code: null, error }));
  });
  if (got !== 'locked') {
    if (got.error) throw new UnavailableError(`cannot take the host lock ${LOCK_FILE}: ${got.error.message} (flock(1) from util-linux is needed)`);
    if (got.code === LOCK_BUSY) {
      const pid = readHolder();
      throw new UnavailableError(`another virtbench run${pid ? ` (pid ${pid})` : ''} is using this host (${LOCK_FILE} is locked); wait for it or stop it`);
    }
    throw new UnavailableError(`cannot take the host lock ${LOCK_FILE}: ${stderr.trim() || `flock exited ${got.code}`}`);
  }
  // for the message a second run prints; the lock itself is the flock, never this content
  try {
    writeFileSync(LOCK_FILE, `${process.pid}\n`);
  } catch {
    /* the pid is only informative */
  }
  let released = false;
  child.once('exit', () => {
    if (!released) process.stderr.write(`virtbench: warning: the holder of the host lock ${LOCK_FILE} exited; another run may start\n`);
  });
  // the lock must not keep the event loop alive: the harness exits when its work is done
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
  return async () => {
    if (released) return;
    released = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    // waiting for the holder's exit must keep the event loop alive (an unref'd wait ends the process)
    child.ref();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
  };
}

/** Pid a lock holder wrote into the lock file, if any (informative only). */
function readHolder(): number | undefined {
  try {
    const pid = Number(readFileSync(LOCK_FILE, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
