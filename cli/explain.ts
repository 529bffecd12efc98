// npm run explain <result dir> <cell>: one cell's runs beside its reference's, with calibration,
// monitor summaries and artifact paths (analysis/explain.ts).
import { UsageError } from '../core/errors.ts';
import { cliMain, parseCli } from '../analysis/cli-support.ts';
import { explainCell } from '../analysis/explain.ts';
import { loadRun } from '../analysis/resultdir.ts';

const USAGE = `usage: npm run explain <result dir> <cell> [-- options]

One cell's runs side by side with its reference cell's: each run's metrics, the host calibration
before it, what the monitors saw during it (PSI of the host and of the guest's group, CPU use,
memory, steal) and its artifacts directory (runs/<cell>#<rep>/: raw tool output, the exact command
and environment, monitor.jsonl); then the per-round ratios and the cell's ratios with their CIs.
<cell> is a cell id, its path-safe form as in runs/, or any part of one id.

options:
  --allow-partial   explain an interrupted run
  -h, --help        this text`;

await cliMain(async () => {
  const { values: v, positionals } = parseCli(process.argv.slice(2), {
    'allow-partial': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('expected a result directory and a cell (see --help)');
  const run = await loadRun(positionals[0]!, { allowPartial: v['allow-partial'] });
  process.stdout.write(explainCell(run, positionals[1]!));
  return 0;
});
