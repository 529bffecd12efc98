// Running a command "in a guest" is, for every driver, starting a host process (bash in a cgroup,
// lxc-attach, ssh...) whose descendants live in the guest. Timeouts and aborts therefore kill the
// guest's processes through the driver (cgroup freezer), not just the host-side process.
import { execa, type ResultPromise } from 'execa';
import { GuestCommandError } from '../core/errors.ts';
import { quoteSh, shellLine } from '../core/shell-quote.ts';
import type { ExecOptions, ExecResult, GuestProcess } from '../core/types.ts';
import { unprotected } from './oom-guard.ts';

/**
 * The environment every guest command starts with, on every platform: bare metal gets exactly what
 * a container's `lxc-attach --clear-env` gets, not the harness's own environment (whose size and
 * variables would otherwise be a difference between the platforms).
 */
export const GUEST_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
};

export interface Launch {
  file: string;
  args: string[];
  env?: Record<string, string>;
  /** Start from an empty environment (plus `env`). */
  extendEnv?: boolean;
}

// the error lives in core so that core/guest-shell.ts throws the same one
export { GuestCommandError } from '../core/errors.ts';

function toResult(r: { exitCode?: number; stdout?: unknown; stderr?: unknown; durationMs: number }, timedOut: boolean): ExecResult {
  return {
    exitCode: r.exitCode ?? (timedOut ? 124 : -1),
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
    durationMs: r.durationMs,
    timedOut,
  };
}

function start(launch: Launch, opts: ExecOptions): ResultPromise {
  // guest processes must stay killable by the OOM killer while the harness protects itself
  const { file, args } = unprotected(launch.file, launch.args);
  return execa(file, args, {
    env: launch.env,
    extendEnv: launch.extendEnv ?? true,
    input: opts.input,
    reject: false,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    maxBuffer: 256 * 1024 * 1024,
    stripFinalNewline: false,
  });
}

/**
 * Run to completion. On timeout or abort, `killGuest` stops the guest-side processes and the
 * result says timedOut (the runner turns that into a DNF).
 */
export async function runInGuest(
  guest: string,
  launch: Launch,
  script: string,
  opts: ExecOptions,
  killGuest: () => Promise<void>,
): Promise<ExecResult> {
  const child = start(launch, opts);
  let timedOut = false;
  // the guest-side kill goes on after the host process dies (it sweeps the cgroup until it is
  // empty): the result waits for it, or it would kill whatever the caller starts next
  let killing: Promise<void> | undefined;
  const stop = () => {
    if (timedOut) return;
    timedOut = true;
    killing = killGuest()
      .catch(() => undefined)
      .finally(() => child.kill('SIGKILL'));
  };
  const timer = opts.timeoutMs ? setTimeout(stop, opts.timeoutMs) : undefined;
  opts.signal?.addEventListener('abort', stop, { once: true });
  if (opts.signal?.aborted) stop();
  try {
    const r = await child;
    await killing;
    const result = toResult(r, timedOut);
    if ((opts.check ?? true) && (result.exitCode !== 0 || timedOut)) throw new GuestCommandError(guest, result, script);
    return result;
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', stop);
  }
}

export function spawnInGuest(launch: Launch, opts: ExecOptions): GuestProcess {
  const child = start(launch, opts);
  const done = child.then((r) => toResult(r, false)).catch((e) => toResult({ durationMs: 0, stderr: String(e) }, false));
  return {
    pid: child.pid,
    done,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}

/** Prefix a script with cd and exported variables, for transports that cannot set them. */
export function withContext(script: string, opts: Pick<ExecOptions, 'cwd' | 'env'>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad environment variable name ${k}`);
    lines.push(`export ${k}=${quoteSh(v)}`);
  }
  if (opts.cwd) lines.push(shellLine`cd ${opts.cwd} || exit 111`);
  lines.push(script);
  return lines.join('\n');
}
