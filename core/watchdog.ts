// A watchdog that outlives the harness. Every adversarial neighbour gets one: a detached shell in
// its own session (not a child the harness must stay alive for) that sleeps until the adversary's
// deadline and then runs the guest's kill script (freeze its cgroup and kill every process in it,
// or kill the VM). Stopping the adversary cancels it. If the harness is killed (SIGKILL, OOM, a
// crash) the watchdog still fires, so no adversary outlives its deadline. systemd-run would do the
// same where systemd runs, but it does not run on every host (nor in these CI containers); a
// detached `sh` needs nothing. The next harness start also kills leftover watchdogs (its sweep
// removes their guests anyway) so that an old one can never fire at a new run's guest.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { STATE_DIR } from './host.ts';
import type { Guest } from './types.ts';

/** argv[0] of every watchdog (followed by STATE_DIR): how a later sweep finds them. */
const MARK = 'virtbench-watchdog';

export interface Watchdog {
  readonly pid: number | undefined;
  /** Stop the watchdog (the adversary was stopped in time). */
  cancel(): void;
}

/**
 * After `seconds`, run the guest's kill script from a process that does not depend on this one.
 * A guest without a kill script (a test double) gets no watchdog.
 */
export function startWatchdog(guest: Guest, seconds: number): Watchdog {
  const script = guest.watchdogScript?.();
  if (!script) return { pid: undefined, cancel: () => undefined };
  // `exec sleep` would lose the script: sleep as a child, then the kill script in this shell
  const child = spawn('sh', ['-c', `sleep ${Math.ceil(seconds)}; ${script}`, MARK, STATE_DIR, guest.name], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
  const pid = child.pid;
  return {
    pid,
    cancel: () => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, 'SIGKILL'); // its session's process group: the shell and its sleep
      } catch {
        /* already gone */
      }
    },
  };
}

/** Kill the watchdogs an earlier (killed) run of this state directory left; returns what was killed. */
export function sweepWatchdogs(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf(MARK);
    if (i < 0 || argv[i + 1] !== STATE_DIR || argv[0] !== 'sh') continue;
    try {
      process.kill(-Number(entry), 'SIGKILL');
      found.push(`watchdog of guest ${argv[i + 2] ?? '?'} (pid ${entry})`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}
