// npm run analyze <results dir>: (re)writes summary.csv from samples.jsonl.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeSummaryCsv } from '../analysis/summary.ts';
import { MANIFEST, SAMPLES } from '../core/results.ts';

const dir = process.argv[2];
if (!dir || process.argv.length > 3) {
  process.stderr.write('usage: npm run analyze <results dir>\n');
  process.exit(2);
}
if (!existsSync(join(dir, MANIFEST)) || !existsSync(join(dir, SAMPLES))) {
  process.stderr.write(`virtbench: ${dir} is not a result directory (needs ${MANIFEST} and ${SAMPLES})\n`);
  process.exit(2);
}
try {
  const { path, rows, ignoredLastLine } = await writeSummaryCsv(dir);
  if (ignoredLastLine) process.stderr.write(`note: ignored an incomplete last line (${ignoredLastLine}) of ${SAMPLES}: an interrupted run\n`);
  process.stdout.write(`${path}: ${rows.length} rows\n`);
} catch (err) {
  process.stderr.write(`virtbench: ${(err as Error).message}\n`);
  process.exit(2);
}
