// Shared by the server workloads (ycsb-redis, specjbb-like, rubis) and the network/memory
// neighbours: find or install a guest's programs, pick ports that do not clash on bare metal
// (where every "guest" shares the host's network namespace), start a server in a guest and wait
// until it answers, with errors that name the cause.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, GuestProcess } from '../core/types.ts';

export interface Needed {
  /** Command that must be on PATH in the guest. */
  command: string;
  /** Debian package that provides it. */
  pkg: string;
}

/**
 * Make sure each command exists in the guest. Guest images carry the workloads' guestPackages; a
 * bare-metal "guest" is the host, where a missing package is installed with apt-get (as the runner
 * installs host packages). When that is impossible the error names the command and the cause.
 */
export async function ensureCommands(guest: Guest, needed: Needed[], opts: { signal?: AbortSignal; log?: (l: string) => void; installTimeoutMs?: number } = {}): Promise<void> {
  const probe = needed.map((n) => shellLine`command -v ${n.command} >/dev/null 2>&1 || echo ${n.pkg}`).join('\n');
  const r = await guest.sh(probe, { timeoutMs: 30_000, signal: opts.signal });
  const missing = [...new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean))];
  if (missing.length === 0) return;
  const cmds = needed.filter((n) => missing.includes(n.pkg)).map((n) => n.command);
  opts.log?.(`${guest.name}: ${cmds.join(', ')} missing; trying apt-get install ${missing.join(' ')}`);
  const install = await guestShell(guest, { signal: opts.signal, timeoutMs: opts.installTimeoutMs ?? 600_000 })`command -v apt-get >/dev/null || { echo 'no apt-get in this guest'; exit 3; }
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends -o Acquire::Retries=0 -o Acquire::http::Timeout=20 ${missing} 2>&1 ||
  { apt-get update -q -o Acquire::Retries=0 -o Acquire::http::Timeout=20 >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends ${missing} 2>&1; }`.nothrow();
  if (install.exitCode === 0) {
    const again = await guest.sh(probe, { timeoutMs: 30_000, signal: opts.signal });
    if (again.stdout.trim() === '') return;
  }
  const tail = (install.stdout + install.stderr).trim().split('\n').slice(-2).join(' | ');
  throw new Error(
    `${cmds.join(', ')} not found in guest ${guest.name} (${guest.platform}) and package ${missing.join(', ')} could not be installed` +
      `${install.timedOut ? ' (apt-get timed out)' : ''}: ${tail || `exit ${install.exitCode}`}`,
  );
}

/**
 * A port for a service of a guest, stable for the guest's name: bare-metal guests share one
 * network namespace, so each guest (and each service of it) gets its own port in 20000..39999.
 */
export function portFor(guestName: string, service: string, attempt = 0): number {
  const h = createHash('sha256').update(`${guestName}/${service}/${attempt}`).digest();
  return 20000 + (h.readUInt32BE(0) % 20000);
}

/** The guest's address on the harness network, or a clear error if it has none. */
export function addressOf(guest: Guest): string {
  const a = guest.address();
  if (!a) throw new Error(`guest ${guest.name} has no address on the harness network (spec.network is false)`);
  return a;
}

/** Whether a TCP connection to host:port succeeds within timeoutMs. */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export interface Server {
  proc: GuestProcess;
  /** Output of the server so far, when it ended (for error messages). */
  exited: () => string | undefined;
}

/** Start a long-running server in the guest; it lives until killed or the guest is destroyed. */
export function startServer(guest: Guest, script: string): Server {
  const proc = guest.spawn(script);
  let ended: string | undefined;
  void proc.done.then((r) => {
    ended = `exited ${r.exitCode}: ${(r.stderr + r.stdout).trim().split('\n').slice(-3).join(' | ') || 'no output'}`;
  });
  return { proc, exited: () => ended };
}

/**
 * Wait until `ready()` says yes; fail early if the server process ended, and at the deadline with
 * the name of what never became ready.
 */
export async function waitUntilReady(what: string, server: Server | undefined, ready: () => Promise<boolean>, timeoutMs: number, signal?: AbortSignal, pollMs = 250): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new Error(`aborted while waiting for ${what}`);
    if (await ready()) return;
    const ended = server?.exited();
    if (ended !== undefined) throw new Error(`${what} ${ended}`);
    if (Date.now() >= until) throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Parse "k=v,k=v" (an environment override) into a record. */
export function parseKv(text: string | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new Error(`${what}: expected key=value, got '${part}'`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}
