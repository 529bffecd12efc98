// The figures of a run: summary rows of its samples, the suite groups' figures (Figures 9-12) for
// cells that declare a group, the lifecycle figures and tables for experiment cells
// (<platform>/<experiment>/<param>), the generic figures (overview, per workload, overcommit,
// allocation) for the others. Used by `npm run figures` and `npm run export`.
import { UsageError } from '../core/errors.ts';
import type { Cell, Sample } from '../core/types.ts';
import { isExperimentSample } from './experiment-cells.ts';
import { figureData, PLATFORM_ORDER, type FigureData, type FigureOptions } from './figure-data.ts';
import type { SpecFigure } from './figures.ts';
import { cellInfo, groupFigures } from './group-figures.ts';
import { lifecycleFigures } from './lifecycle-figures.ts';
import { lifecycleTables, type Table } from './lifecycle-tables.ts';
import { scalingFigures } from './scaling-figures.ts';
import { scalingTables } from './scaling-tables.ts';
import { loadRun, type LoadOptions, type LoadedRun } from './resultdir.ts';
import { summarize } from './summary.ts';

/**
 * Every bar figure of these samples (the ones export also writes as wide tables); `cells` (the
 * manifest's) adds what samples do not carry (referenceAxis).
 */
export function figuresOfSamples(samples: readonly Sample[], cells: readonly Partial<Cell>[] = [], opts: FigureOptions = {}): FigureData[] {
  const all = summarize(samples);
  // experiment cells have figures of their own: a storm's N is not a neighbour
  const experiment = new Set(samples.filter(isExperimentSample).map((s) => s.cell));
  const rows = all.filter((r) => !experiment.has(r.cell));
  const info = cellInfo(samples, cells);
  const grouped = (cell: string) => info.get(cell)?.group !== undefined;
  // a cell that is only the reference of grouped cells is drawn in their figures, not in the generic ones
  const groupRefs = new Set(rows.filter((r) => grouped(r.cell)).map((r) => r.reference));
  const generic = rows.filter((r) => !grouped(r.cell) && !groupRefs.has(r.cell));
  return [...figureData(generic, opts), ...groupFigures(rows, info, opts), ...lifecycleFigures(samples, all, opts).bars];
}

/** The figures that are drawn only (lines and box plots of experiment cells; their numbers are in the tables). */
export function plotsOfSamples(samples: readonly Sample[], opts: FigureOptions = {}): SpecFigure[] {
  const rows = summarize(samples);
  return [...lifecycleFigures(samples, rows, opts).plots, ...scalingFigures(samples, rows, opts)];
}

/**
 * The figures of a result directory: its platforms first in the run's order, loading notes on
 * stderr; UsageError when there is nothing to draw. `plots` and `tables`: the experiment cells'
 * line and box figures and their tables (empty for runs without experiment cells).
 */
export async function figuresOfRun(dir: string, opts: LoadOptions = {}): Promise<{ run: LoadedRun; figs: FigureData[]; plots: SpecFigure[]; tables: Table[] }> {
  const run = await loadRun(dir, opts);
  for (const n of run.notes) process.stderr.write(`note: ${n}\n`);
  const mine = run.manifest.platforms ?? [];
  const order = [...mine, ...PLATFORM_ORDER.filter((p) => !mine.includes(p))];
  const figs = figuresOfSamples(run.samples, Array.isArray(run.manifest.cells) ? run.manifest.cells : [], { platformOrder: order });
  const plots = plotsOfSamples(run.samples, { platformOrder: order });
  const rows = summarize(run.samples);
  const tables = [...lifecycleTables(run.samples, rows, order), ...scalingTables(run.samples, rows, order)];
  if (figs.length + plots.length === 0) throw new UsageError(`${run.dir}: nothing to draw or export (no measured samples)`);
  return { run, figs, plots, tables };
}
