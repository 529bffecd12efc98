// The figures of a run: summary rows of its samples, the suite groups' figures (Figures 9-12) for
// cells that declare a group, the generic figures (overview, per workload, overcommit, allocation)
// for the others. Used by `npm run figures` and `npm run export`.
import { UsageError } from '../core/errors.ts';
import type { Cell, Sample } from '../core/types.ts';
import { figureData, PLATFORM_ORDER, type FigureData, type FigureOptions } from './figure-data.ts';
import { cellInfo, groupFigures } from './group-figures.ts';
import { loadRun, type LoadOptions, type LoadedRun } from './resultdir.ts';
import { summarize } from './summary.ts';

/** Every figure of these samples; `cells` (the manifest's) adds what samples do not carry (referenceAxis). */
export function figuresOfSamples(samples: readonly Sample[], cells: readonly Partial<Cell>[] = [], opts: FigureOptions = {}): FigureData[] {
  const rows = summarize(samples);
  const info = cellInfo(samples, cells);
  const grouped = (cell: string) => info.get(cell)?.group !== undefined;
  // a cell that is only the reference of grouped cells is drawn in their figures, not in the generic ones
  const groupRefs = new Set(rows.filter((r) => grouped(r.cell)).map((r) => r.reference));
  const generic = rows.filter((r) => !grouped(r.cell) && !groupRefs.has(r.cell));
  return [...figureData(generic, opts), ...groupFigures(rows, info, opts)];
}

/**
 * The figures of a result directory: its platforms first in the run's order, loading notes on
 * stderr; UsageError when there is nothing to draw.
 */
export async function figuresOfRun(dir: string, opts: LoadOptions = {}): Promise<{ run: LoadedRun; figs: FigureData[] }> {
  const run = await loadRun(dir, opts);
  for (const n of run.notes) process.stderr.write(`note: ${n}\n`);
  const mine = run.manifest.platforms ?? [];
  const order = [...mine, ...PLATFORM_ORDER.filter((p) => !mine.includes(p))];
  const figs = figuresOfSamples(run.samples, Array.isArray(run.manifest.cells) ? run.manifest.cells : [], { platformOrder: order });
  if (figs.length === 0) throw new UsageError(`${run.dir}: nothing to draw or export (no measured samples)`);
  return { run, figs };
}
