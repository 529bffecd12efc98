// Temporary directories for tests, removed when the test file's worker process exits, so that
// repeated `npm test` runs leave nothing in /tmp. Set VIRTBENCH_KEEP_TEST_TMP=1 to keep them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  if (process.env.VIRTBENCH_KEEP_TEST_TMP) return;
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
