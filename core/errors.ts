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
