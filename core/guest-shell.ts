// zx's `$` for a guest: commands in a guest read as the commands a person would type, and every
// interpolated value is quoted (core/shell-quote.ts, POSIX, so any guest shell reads it):
//   const $g = guestShell(guest, { signal: ctx.signal, timeoutMs: 30_000 });
//   await $g`mkdir -p ${dir}`;                                   // throws GuestCommandError on exit != 0
//   const pong = await $g`redis-cli -p ${port} ping`.text();      // trimmed stdout
//   const { exitCode } = await $g`test -f ${file}`.nothrow();     // any exit code is a result
//   await $g({ timeoutMs: 600_000 })`make -C ${src} -j${jobs}`;   // the same shell, other options
//   const server = $g.spawn`exec redis-server --port ${port}`;    // background, until killed
import { GuestCommandError } from './errors.ts';
import { buildShellLine, type ShellValue } from './shell-quote.ts';
import type { ExecOptions, ExecResult, Guest, GuestProcess } from './types.ts';

/** Options of every command of a guest shell (ExecOptions without `check`: see nothrow()). */
export type GuestShellOptions = Omit<ExecOptions, 'check'>;

/**
 * One command started in a guest (it starts at once, as in zx). Awaiting it gives the guest's
 * ExecResult, or throws a GuestCommandError (guest, command, tail of stderr) on a non-zero exit or
 * a timeout, unless nothrow() was called first.
 */
export class GuestCommand implements PromiseLike<ExecResult> {
  private throws = true;
  private readonly started: Promise<ExecResult>;

  constructor(
    readonly guest: Guest,
    readonly command: string,
    opts: GuestShellOptions,
  ) {
    this.started = guest.sh(command, { ...opts, check: false });
    // a transport failure is reported where the command is awaited, not as an unhandled rejection
    this.started.catch(() => undefined);
  }

  /** Resolve with the result whatever the exit code (zx's nothrow()). */
  nothrow(): this {
    this.throws = false;
    return this;
  }

  /** Standard output without its surrounding whitespace (zx's text(), trimmed). */
  async text(): Promise<string> {
    return (await this).stdout.trim();
  }

  then<A = ExecResult, B = never>(onDone?: ((r: ExecResult) => A | PromiseLike<A>) | null, onFail?: ((err: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.outcome().then(onDone, onFail);
  }

  private async outcome(): Promise<ExecResult> {
    const r = await this.started;
    if (this.throws && (r.exitCode !== 0 || r.timedOut)) throw new GuestCommandError(this.guest.name, r, this.command);
    return r;
  }
}

export interface GuestShell {
  /** Run the command line in the guest. */
  (pieces: TemplateStringsArray, ...values: ShellValue[]): GuestCommand;
  /** The same shell with these options added (zx's `$({...})`). */
  (opts: GuestShellOptions): GuestShell;
  /** Start the command line in the background (a server, an adversary): it runs until it ends or is killed. */
  spawn(pieces: TemplateStringsArray, ...values: ShellValue[]): GuestProcess;
  readonly guest: Guest;
  readonly options: Readonly<GuestShellOptions>;
}

const isTemplate = (v: unknown): v is TemplateStringsArray => Array.isArray(v) && 'raw' in v;

/** A `$` for commands in `guest`, each with `opts` (signal, timeoutMs, env, cwd, input). */
export function guestShell(guest: Guest, opts: GuestShellOptions = {}): GuestShell {
  function $g(pieces: TemplateStringsArray, ...values: ShellValue[]): GuestCommand;
  function $g(more: GuestShellOptions): GuestShell;
  function $g(first: TemplateStringsArray | GuestShellOptions, ...values: ShellValue[]): GuestCommand | GuestShell {
    if (!isTemplate(first)) return guestShell(guest, { ...opts, ...first });
    return new GuestCommand(guest, buildShellLine(first, values), opts);
  }
  return Object.assign($g, {
    spawn: (pieces: TemplateStringsArray, ...values: ShellValue[]): GuestProcess => guest.spawn(buildShellLine(pieces, values), opts),
    guest,
    options: opts,
  });
}
