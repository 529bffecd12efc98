// npm run export <result dir> [-- --latex] [--digits N] [--out DIR]: one wide table per figure.
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { cliMain, intArg, parseCli } from '../analysis/cli-support.ts';
import { writeTables } from '../analysis/export.ts';
import { writeLifecycleTables } from '../analysis/lifecycle-tables.ts';
import { memoryPerWorkloadTable } from '../analysis/memory-table.ts';
import { PLATFORM_ORDER } from '../analysis/figure-data.ts';
import { figuresOfRun } from '../analysis/run-figures.ts';

const USAGE = `usage: npm run export <result dir> [-- options]

Writes one wide CSV per figure (rows: workloads, neighbours or settings; columns per platform: the
value, its 95% CI, n and a status such as DNF; units in the headers), and with --latex a booktabs
table beside it. summary.csv in the result directory is the tidy (long) form. Runs with experiment
cells (the lifecycle suite) also get lifecycle-footprint.csv (per platform: disk increment, idle
memory, image size and build time, CoW write ratio), lifecycle-launch.csv (p50, p95, mean, CI, n
per platform, cache state and metric) and lifecycle-storm.csv (per platform, image and N).
Runs of workload cells with monitors also get memory-per-workload.csv (per platform and workload,
one tenant, no neighbour: median and max over runs of the guest cgroup's peak memory, mean of its
mean, in MiB).

options:
  --out DIR         output directory (default <result dir>/tables)
  --latex           also write <id>.tex (needs \\usepackage{booktabs})
  --digits N        decimals of relative tables (default 2); absolute tables get 3 significant digits
  --allow-partial   export an interrupted run
  -h, --help        this text`;

await cliMain(async () => {
  const { values: v, positionals } = parseCli(process.argv.slice(2), {
    out: { type: 'string' },
    latex: { type: 'boolean' },
    digits: { type: 'string' },
    'allow-partial': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected one result directory (see --help)');
  const { run, figs, tables } = await figuresOfRun(positionals[0]!, { allowPartial: v['allow-partial'] });
  const out = v.out ?? join(run.dir, 'tables');
  const mine = run.manifest.platforms ?? [];
  const memory = memoryPerWorkloadTable(run.samples, [...mine, ...PLATFORM_ORDER.filter((p) => !mine.includes(p))]);
  const files = [
    ...writeTables(figs, out, { latex: v.latex, digits: intArg('digits', v.digits, 0, 6) }),
    ...writeLifecycleTables(memory ? [...tables, memory] : tables, out),
  ];
  for (const f of files) process.stdout.write(`${f}\n`);
  return 0;
});
