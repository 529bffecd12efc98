// The lifecycle tables of `npm run export` (long CSVs, one row per platform or cell; numbers as in
// summary.csv, up to 6 significant digits; a cell absent from the run is an absent row or an empty
// field, never a zero):
//
//   lifecycle-footprint  per platform (the study's Tables 2-5): every metric of the footprint,
//                        image and cow experiments (disk increment of a new guest, idle memory,
//                        image size and build time, CoW write time) with mean, 95% CI, n and DNF,
//                        and each cell's ratio to its reference (cow: layer/plain) with its CI
//   lifecycle-launch     per platform, cache state and metric: p50 and p95 of the raw runs, mean,
//                        95% CI, n, DNF
//   lifecycle-storm      per platform, image kind and N: median of every guest's ready_s, mean and
//                        95% CI of all_ready_s, runs and guests that never became ready
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../core/atomic.ts';
import type { Sample } from '../core/types.ts';
import { distinct, platformSort, PLATFORM_ORDER } from './figure-data.ts';
import { experimentGroups, naturalCompare, paramPoint, percentile, type ExperimentGroup } from './experiment-cells.ts';
import { formatNumber, type SummaryRow } from './summary.ts';

export interface Table {
  id: string;
  header: string[];
  records: string[][];
}

/** Experiments whose cells go into the footprint table, in column order. */
const FOOTPRINT_EXPERIMENTS = ['footprint', 'image', 'cow'];

const num = formatNumber;
const key = (cell: string, metric: string) => `${cell}\u0000${metric}`;

/** Per platform, every metric of the footprint experiments: mean, CI, n, DNF; ratios to references. */
export function footprintTable(groups: readonly ExperimentGroup[], rows: ReadonlyMap<string, SummaryRow>, order: readonly string[]): Table | undefined {
  const mine = groups.filter((g) => FOOTPRINT_EXPERIMENTS.includes(g.experiment));
  if (mine.length === 0) return undefined;
  const header = ['platform'];
  const columns: ((platform: string) => string[])[] = [];
  for (const experiment of FOOTPRINT_EXPERIMENTS) {
    const of = mine.filter((g) => g.experiment === experiment);
    const params = distinct(of.map((g) => g.param)).sort(naturalCompare);
    for (const param of params) {
      for (const metric of distinct(of.filter((g) => g.param === param).map((g) => g.metric))) {
        const g0 = of.find((g) => g.param === param && g.metric === metric)!;
        const name = params.length > 1 ? `${experiment} ${param} ${metric}` : `${experiment} ${metric}`;
        header.push(`${name} mean [${g0.unit}]`, `${name} ci95_low [${g0.unit}]`, `${name} ci95_high [${g0.unit}]`, `${name} n`, `${name} dnf`);
        const cellOf = (platform: string) => of.find((g) => g.platform === platform && g.param === param && g.metric === metric);
        columns.push((platform) => {
          const g = cellOf(platform);
          const r = g && rows.get(key(g.cell, metric));
          return r ? [num(r.mean), num(r.ci95_low), num(r.ci95_high), String(r.n), String(r.dnf)] : ['', '', '', '', ''];
        });
        // a cell compared with another of its experiment (cow layer against plain): the ratio of means
        const reference = distinct(of.filter((g) => g.param === param && g.metric === metric).map((g) => rows.get(key(g.cell, metric))?.reference ?? '')).find((x) => x !== '');
        if (reference !== undefined) {
          const rname = `${experiment} ${param}/${reference.split('/').pop()} ${metric}`;
          header.push(`${rname} ratio`, `${rname} ratio_ci95_low`, `${rname} ratio_ci95_high`);
          columns.push((platform) => {
            const g = cellOf(platform);
            const r = g && rows.get(key(g.cell, metric));
            return r && r.reference !== '' ? [num(r.ratio), num(r.ratio_ci95_low), num(r.ratio_ci95_high)] : ['', '', ''];
          });
        }
      }
    }
  }
  const platforms = platformSort(distinct(mine.map((g) => g.platform)), order);
  return { id: 'lifecycle-footprint', header, records: platforms.map((p) => [p, ...columns.flatMap((c) => c(p))]) };
}

/** Per platform, cache state and metric of the launch experiment: p50, p95 (raw runs), mean, CI, n, DNF. */
export function launchTable(groups: readonly ExperimentGroup[], rows: ReadonlyMap<string, SummaryRow>, order: readonly string[]): Table | undefined {
  const mine = groups.filter((g) => g.experiment === 'launch');
  if (mine.length === 0) return undefined;
  const platforms = platformSort(distinct(mine.map((g) => g.platform)), order);
  const sorted = [...mine].sort((a, b) => platforms.indexOf(a.platform) - platforms.indexOf(b.platform) || naturalCompare(a.param, b.param));
  const records = sorted.map((g) => {
    const r = rows.get(key(g.cell, g.metric));
    return [g.platform, g.param, g.metric, g.unit, num(percentile(g.values, 0.5)), num(percentile(g.values, 0.95)), num(r?.mean), num(r?.ci95_low), num(r?.ci95_high), String(g.values.length), String(g.dnf), String(g.errors), g.accel];
  });
  return { id: 'lifecycle-launch', header: ['platform', 'cache', 'metric', 'unit', 'p50', 'p95', 'mean', 'ci95_low', 'ci95_high', 'n', 'dnf', 'errors', 'accel'], records };
}

/** Per platform, image kind and N: per-guest ready_s median, all_ready_s mean and CI, DNF counts. */
export function stormTable(groups: readonly ExperimentGroup[], rows: ReadonlyMap<string, SummaryRow>, order: readonly string[]): Table | undefined {
  const mine = groups.filter((g) => g.experiment === 'storm' && paramPoint('storm', g.param) !== undefined);
  if (mine.length === 0) return undefined;
  const platforms = platformSort(distinct(mine.map((g) => g.platform)), order);
  const cells = distinct(mine.map((g) => g.cell));
  const info = (cell: string) => {
    const g = mine.find((x) => x.cell === cell)!;
    return { platform: g.platform, param: g.param, ...paramPoint('storm', g.param)! };
  };
  const ordered = cells
    .map(info)
    .sort((a, b) => platforms.indexOf(a.platform) - platforms.indexOf(b.platform) || (a.series === b.series ? 0 : a.series === 'shared' ? -1 : b.series === 'shared' ? 1 : naturalCompare(a.series, b.series)) || a.x - b.x);
  const records = ordered.map((c) => {
    const each = mine.find((g) => g.platform === c.platform && g.param === c.param && g.metric === 'ready_s');
    const all = mine.find((g) => g.platform === c.platform && g.param === c.param && g.metric === 'all_ready_s');
    const r = all && rows.get(key(all.cell, all.metric));
    return [
      c.platform,
      c.series,
      String(c.x),
      each ? num(percentile(each.values, 0.5)) : '',
      each ? String(each.values.length) : '',
      each ? String(each.dnf) : '',
      num(r?.mean),
      num(r?.ci95_low),
      num(r?.ci95_high),
      all ? String(all.values.length) : '',
      all ? String(all.dnf) : '',
      (each ?? all)?.accel ?? '',
    ];
  });
  return {
    id: 'lifecycle-storm',
    header: ['platform', 'image', 'n_guests', 'ready_s median [s]', 'ready_s guests', 'ready_s dnf guests', 'all_ready_s mean [s]', 'all_ready_s ci95_low [s]', 'all_ready_s ci95_high [s]', 'all_ready_s n', 'all_ready_s dnf', 'accel'],
    records,
  };
}

/** The lifecycle tables these samples support (none for samples of no experiment cell). */
export function lifecycleTables(samples: readonly Sample[], summaryRows: readonly SummaryRow[], platformOrder: readonly string[] = PLATFORM_ORDER): Table[] {
  const groups = experimentGroups(samples);
  if (groups.length === 0) return [];
  const rows = new Map(summaryRows.map((r) => [key(r.cell, r.metric), r]));
  return [footprintTable(groups, rows, platformOrder), launchTable(groups, rows, platformOrder), stormTable(groups, rows, platformOrder)].filter((t): t is Table => t !== undefined);
}

export function tableCsv(t: Table): string {
  return stringify([t.header, ...t.records]);
}

/** Write <outDir>/<id>.csv per table, atomically; returns the files written. */
export function writeLifecycleTables(tables: readonly Table[], outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  return tables.map((t) => {
    const file = join(outDir, `${t.id}.csv`);
    writeFileAtomic(file, tableCsv(t));
    return file;
  });
}
