// npm run analyze <results dir>: (re)writes summary.csv from samples.jsonl.
// The directory is checked like every analysis command checks it (manifest, every sample line,
// something measured) before summary.csv is touched: bad input is one line, exit 2, nothing written.
import { UsageError } from '../core/errors.ts';
import { cliMain } from '../analysis/cli-support.ts';
import { loadRun } from '../analysis/resultdir.ts';
import { writeSummaryCsv } from '../analysis/summary.ts';
import { SAMPLES } from '../core/results.ts';

await cliMain(async () => {
  const args = process.argv.slice(2);
  if (args.length !== 1 || args[0] === '') throw new UsageError('usage: npm run analyze <results dir>');
  // an interrupted run can be summarized (its cut-off last line is ignored and said)
  const run = await loadRun(args[0]!, { allowPartial: true });
  const { path, rows, ignoredLastLine } = await writeSummaryCsv(run.dir);
  if (ignoredLastLine) process.stderr.write(`note: ignored an incomplete last line (${ignoredLastLine}) of ${SAMPLES}: an interrupted run\n`);
  process.stdout.write(`${path}: ${rows.length} rows\n`);
  return 0;
});
