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
