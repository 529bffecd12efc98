// What the analysis command-line tools (cli/compare.ts, baseline.ts, figures.ts, export.ts) share:
// strict argument parsing where every mistake is one line, and a main wrapper that turns the
// user's mistakes (UsageError, a file that cannot be read or written) into one line and exit 2.
// Anything else is a bug: its stack is printed and the exit code is 3, so that a crash of compare
// is never read as "regression" (1).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.ts';

export function userMessage(err: unknown): string | undefined {
  if (err instanceof UsageError) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code)) return err.message.split('\n')[0];
  return undefined;
}

/** Run a command's body and exit with its code; see the file comment for errors. */
export async function cliMain(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    const msg = userMessage(err);
    if (msg !== undefined) {
      process.stderr.write(`virtbench: ${msg}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`virtbench: internal error (a bug, please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 3;
  }
}

/** node:util parseArgs with its errors as one-line UsageErrors pointing at --help. */
export function parseCli<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (see --help)`);
  }
}

export function numberArg(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number between ${min} and ${max}, got '${v}'`);
  return n;
}

export function intArg(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got '${v}'`);
  return numberArg(name, v, min, max);
}

/** '5%' or '5' (percent) -> 0.05 */
export function percentArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = v.match(/^(\d+(?:\.\d+)?)%?$/);
  if (!m) throw new UsageError(`--${name} must be a percentage such as 5% or 2.5, got '${v}'`);
  const x = Number(m[1]) / 100;
  if (x > 10) throw new UsageError(`--${name} must be at most 1000%, got '${v}'`);
  return x;
}
