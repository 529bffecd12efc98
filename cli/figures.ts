// npm run figures <result dir> [-- --out DIR] [--vega-lite]: SVG figures in the style of the study's.
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { cliMain, parseCli } from '../analysis/cli-support.ts';
import { figuresOfRun } from '../analysis/run-figures.ts';
import { writeFigures } from '../analysis/figures.ts';

const USAGE = `usage: npm run figures <result dir> [-- options]

Renders SVG figures (no browser needed): relative performance per workload with 95% CI whiskers,
platforms side by side, DNF written where a platform did not finish; overcommit and allocation
comparisons where the run has those cells; the study's Figures 9-12 (fig9, fig10, fig11-limits,
fig11-platform, fig12) for cells of the overcommit, allocation and nested suites; for experiment
cells (the lifecycle suite): boot storm and contention lines against N, launch latency box plots
cold against warm, bars per experiment and metric. Lists them in index.md.

options:
  --out DIR         output directory (default <result dir>/figures)
  --vega-lite       also write each figure's Vega-Lite spec (<id>.vl.json) to restyle it
  --allow-partial   draw an interrupted run
  -h, --help        this text`;

await cliMain(async () => {
  const { values: v, positionals } = parseCli(process.argv.slice(2), {
    out: { type: 'string' },
    'vega-lite': { type: 'boolean' },
    'allow-partial': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected one result directory (see --help)');
  const { run, figs, plots } = await figuresOfRun(positionals[0]!, { allowPartial: v['allow-partial'] });
  const out = v.out ?? join(run.dir, 'figures');
  const written = await writeFigures([...figs, ...plots], out, { vegaLite: v['vega-lite'] });
  for (const w of written) process.stdout.write(`${w.file}\n`);
  process.stderr.write(`${written.length} figures in ${out} (see index.md)\n`);
  return 0;
});
