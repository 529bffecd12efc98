import type { ExecResult } from './types.ts';

/** A mistake in what the user asked for: printed as one line, exit code 2, nothing started. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The platform or tool cannot run on this host; the sentence says why. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}

/** Errors of the file system a run writes to: the user's disk, not a bug of the harness. */
const FILE_SYSTEM_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EIO', 'EFBIG', 'ENAMETOOLONG']);

/** One line for a file-system error (disk full, read-only, not a directory...), or undefined for anything else. */
export function fileSystemError(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!(err instanceof Error) || typeof code !== 'string' || !FILE_SYSTEM_CODES.has(code)) return undefined;
  return err.message.split('\n')[0];
}

/** A command in a guest exited non-zero or timed out: names the guest, the command and the tail of its output. */
export class GuestCommandError extends Error {
  override name = 'GuestCommandError';
  constructor(
    readonly guest: string,
    readonly result: ExecResult,
    script: string,
  ) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ');
    const what = result.timedOut ? 'timed out' : `exited ${result.exitCode}`;
    super(`in guest ${guest}: \`${script.length > 80 ? script.slice(0, 77) + '...' : script}\` ${what}${tail ? `: ${tail}` : ''}`);
  }
}
