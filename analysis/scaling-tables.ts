// The tables of the scaling and migration suites (issue 12), written by `npm run export` beside the
// lifecycle tables (long CSVs; numbers as in summary.csv; a metric a cell does not have is an
// empty field, never 0):
//
//   scaling-readiness    per platform, app and start method (cold, warm, hot, resume): start_s and
//                        ready_s (mean, 95% CI), ready_s's ratio to the cold start of the same app
//                        and platform with its CI, image_bytes, first_ops_s (mean ops/s of the
//                        first seconds of service), source_slowdown, n, accel
//   migration-footprint  per platform and workload running in the guest (the study's Table 2):
//                        memory to move (memory_bytes, MiB), checkpoint bytes (MiB), bytes a live
//                        migration sent (MiB), its total seconds, downtime (ms) and the workload's
//                        slowdown, n, accel
import type { Sample } from '../core/types.ts';
import { experimentGroups, naturalCompare, type ExperimentGroup } from './experiment-cells.ts';
import { distinct, platformSort, PLATFORM_ORDER } from './figure-data.ts';
import type { Table } from './lifecycle-tables.ts';
import { formatNumber, type SummaryRow } from './summary.ts';

const MiB = 1024 ** 2;
const METHOD_ORDER = ['cold', 'warm', 'hot', 'resume'];

type Rows = ReadonlyMap<string, SummaryRow>;
const rowOf = (rows: Rows, cell: string, metric: string) => rows.get(`${cell}\u0000${metric}`);
const num = (x: number | undefined, scale = 1) => (x === undefined || !Number.isFinite(x) ? '' : formatNumber(x / scale));

function cellsOf(groups: readonly ExperimentGroup[], experiment: string, order: readonly string[], rank: (param: string) => number) {
  const mine = groups.filter((g) => g.experiment === experiment);
  const platforms = platformSort(distinct(mine.map((g) => g.platform)), order);
  const cells = distinct(mine.map((g) => g.cell)).map((cell) => {
    const g = mine.find((x) => x.cell === cell)!;
    return { cell, platform: g.platform, param: g.param, accel: distinct(mine.filter((x) => x.cell === cell).map((x) => x.accel)).join('+'), n: Math.max(...mine.filter((x) => x.cell === cell).map((x) => x.runs)) };
  });
  return cells.sort((a, b) => platforms.indexOf(a.platform) - platforms.indexOf(b.platform) || rank(a.param) - rank(b.param) || naturalCompare(a.param, b.param));
}

/** Per platform, app and method of the scale experiment: readiness and what came with it. */
export function readinessTable(groups: readonly ExperimentGroup[], rows: Rows, order: readonly string[]): Table | undefined {
  const method = (param: string) => param.slice(param.indexOf('-') + 1);
  const cells = cellsOf(groups, 'scale', order, (p) => {
    const i = METHOD_ORDER.indexOf(method(p));
    return (p.startsWith('redis-') ? 0 : 10) + (i < 0 ? METHOD_ORDER.length : i);
  });
  if (cells.length === 0) return undefined;
  const header = [
    'platform', 'app', 'method',
    'start_s mean [s]', 'start_s ci95_low [s]', 'start_s ci95_high [s]',
    'ready_s mean [s]', 'ready_s ci95_low [s]', 'ready_s ci95_high [s]',
    'ready_s ratio to cold', 'ratio ci95_low', 'ratio ci95_high',
    'image_bytes mean [MiB]', 'first_ops_s mean [ops/s]', 'first_ops_s ci95_low [ops/s]', 'first_ops_s ci95_high [ops/s]',
    'source_slowdown mean', 'n', 'dnf', 'errors', 'accel',
  ];
  const records = cells.map((c) => {
    const r = (m: string) => rowOf(rows, c.cell, m);
    const start = r('start_s');
    const ready = r('ready_s');
    const first = r('first_ops_s');
    return [
      c.platform, c.param.slice(0, c.param.indexOf('-')), method(c.param),
      num(start?.mean), num(start?.ci95_low), num(start?.ci95_high),
      num(ready?.mean), num(ready?.ci95_low), num(ready?.ci95_high),
      ready?.reference ? num(ready.ratio) : '', ready?.reference ? num(ready.ratio_ci95_low) : '', ready?.reference ? num(ready.ratio_ci95_high) : '',
      num(r('image_bytes')?.mean, MiB), num(first?.mean), num(first?.ci95_low), num(first?.ci95_high),
      num(r('source_slowdown')?.mean), String(ready?.n ?? 0), String(ready?.dnf ?? 0), String(ready?.errors ?? 0), c.accel,
    ];
  });
  return { id: 'scaling-readiness', header, records };
}

/** Per platform and workload of the migrate experiment: the study's Table 2 and the live migration. */
export function migrationFootprintTable(groups: readonly ExperimentGroup[], rows: Rows, order: readonly string[]): Table | undefined {
  const rank = (p: string) => ['idle', 'ycsb-redis', 'kernel-compile'].indexOf(p);
  const cells = cellsOf(groups, 'migrate', order, (p) => (rank(p) < 0 ? 9 : rank(p)));
  if (cells.length === 0) return undefined;
  const header = [
    'platform', 'workload',
    'memory to move mean [MiB]', 'memory ci95_low [MiB]', 'memory ci95_high [MiB]',
    'checkpoint mean [MiB]', 'sent mean [MiB]', 'sent ci95_low [MiB]', 'sent ci95_high [MiB]',
    'total_s mean [s]', 'downtime mean [ms]', 'slowdown mean', 'n', 'migrations', 'migration errors', 'accel',
  ];
  const records = cells.map((c) => {
    const r = (m: string) => rowOf(rows, c.cell, m);
    const mem = r('memory_bytes');
    const sent = r('sent_bytes');
    return [
      c.platform, c.param,
      num(mem?.mean, MiB), num(mem?.ci95_low, MiB), num(mem?.ci95_high, MiB),
      num(r('checkpoint_bytes')?.mean, MiB), num(sent?.mean, MiB), num(sent?.ci95_low, MiB), num(sent?.ci95_high, MiB),
      num(r('total_s')?.mean), num(r('downtime_ms')?.mean), num(r('slowdown')?.mean),
      String(mem?.n ?? 0), String(sent?.n ?? 0), String(r('total_s')?.errors ?? 0), c.accel,
    ];
  });
  return { id: 'migration-footprint', header, records };
}

/** The scaling and migration tables these samples support (none without their cells). */
export function scalingTables(samples: readonly Sample[], summaryRows: readonly SummaryRow[], platformOrder: readonly string[] = PLATFORM_ORDER): Table[] {
  const groups = experimentGroups(samples);
  if (groups.length === 0) return [];
  const rows = new Map(summaryRows.map((r) => [`${r.cell}\u0000${r.metric}`, r]));
  return [readinessTable(groups, rows, platformOrder), migrationFootprintTable(groups, rows, platformOrder)].filter((t): t is Table => t !== undefined);
}
