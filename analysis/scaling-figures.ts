// Figures of the scaling suite's first seconds of service (issue 12): per app and timeline metric
// (ops/s, mean and median latency per 1-second bucket: core/timeline-metrics.ts), one figure with
// the second after the instance was ready on the x axis and a line per platform and start method
// (colour: platform, dash: method), mean over repetitions with 95% CI whiskers from summary.csv's
// rows. Readiness per method and platform needs no code of its own: it is the bar figure every
// experiment metric gets (scale-ready_s-absolute, analysis/lifecycle-figures.ts). Pure.
import type { TopLevelSpec } from 'vega-lite';
import { parseTimelineMetric, TIMELINE_BASES } from '../core/timeline-metrics.ts';
import type { Sample } from '../core/types.ts';
import { experimentGroups, naturalCompare } from './experiment-cells.ts';
import { distinct, platformSort, PLATFORM_ORDER, slug, type FigureOptions } from './figure-data.ts';
import { colours, wrap, type SpecFigure } from './figures.ts';
import type { SummaryRow } from './summary.ts';

const WORDS: Record<string, string> = {
  ops_s: 'requests answered per second',
  latency_mean_ms: 'mean request latency',
  latency_p50_ms: 'median request latency',
};

const CONFIG = { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: { stroke: null }, axis: { domainColor: '#444', tickColor: '#444', titleFontSize: 12, labelFontSize: 11 } };

export interface TimelinePoint {
  platform: string;
  method: string;
  line: string;
  second: number;
  value: number | null;
  low: number | null;
  high: number | null;
  n: number;
  cell: string;
}

/** The points of one app's timeline metric: per cell and second, the summary row's mean and CI. */
export function timelinePoints(samples: readonly Sample[], rows: readonly SummaryRow[], app: string, base: string): TimelinePoint[] {
  const byKey = new Map(rows.map((r) => [`${r.cell}\u0000${r.metric}`, r]));
  const fin = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : null);
  return experimentGroups(samples)
    .filter((g) => g.experiment === 'scale' && g.param.startsWith(`${app}-`) && parseTimelineMetric(g.metric)?.base === base)
    .map((g) => {
      const method = g.param.slice(app.length + 1);
      const r = byKey.get(`${g.cell}\u0000${g.metric}`);
      return { platform: g.platform, method, line: `${g.platform}, ${method}`, second: parseTimelineMetric(g.metric)!.second, value: fin(r?.mean), low: fin(r?.ci95_low), high: fin(r?.ci95_high), n: g.values.length, cell: g.cell };
    })
    .sort((a, b) => a.line.localeCompare(b.line) || a.second - b.second);
}

/** Every timeline figure of these samples: per app and base metric (none without scale cells). */
export function scalingFigures(samples: readonly Sample[], rows: readonly SummaryRow[], opts: FigureOptions = {}): SpecFigure[] {
  const order = opts.platformOrder ?? PLATFORM_ORDER;
  const groups = experimentGroups(samples).filter((g) => g.experiment === 'scale' && parseTimelineMetric(g.metric) !== undefined);
  const apps = distinct(groups.map((g) => g.param.split('-')[0]!)).sort();
  const out: SpecFigure[] = [];
  for (const app of apps) {
    for (const b of TIMELINE_BASES) {
      const points = timelinePoints(samples, rows, app, b.metric);
      if (points.length === 0) continue;
      const platforms = platformSort(distinct(points.map((p) => p.platform)), order);
      const methods = distinct(points.map((p) => p.method)).sort((x, y) => (x === 'cold' ? -1 : y === 'cold' ? 1 : naturalCompare(x, y)));
      const accel = distinct(groups.filter((g) => g.param.startsWith(`${app}-`) && g.accel.includes('tcg')).map((g) => g.platform));
      const ns = distinct(points.map((p) => p.n)).sort((x, y) => x - y);
      const title = `scaling: ${app}, ${WORDS[b.metric] ?? b.metric} in each second after the new instance answered (${b.unit}, ${b.better} is better)`;
      const subtitle = `${ns.length === 1 ? ns[0] : `${ns[0]}-${ns[ns.length - 1]}`} runs per point; line: mean, whiskers: 95% CI; dash: start method${accel.length ? `; ${accel.join(', ')} under TCG emulation` : ''}`;
      const width = 460;
      const seconds = distinct(points.map((p) => p.second)).sort((x, y) => x - y);
      const x = { field: 'second', type: 'quantitative' as const, title: 'second of service after the first answer', scale: { domain: [0.5, Math.max(...seconds) + 0.5], nice: false }, axis: { values: seconds, format: 'd', grid: false } };
      const tops = points.flatMap((p) => [p.value ?? 0, p.high ?? 0]);
      const y = { type: 'quantitative' as const, title: `${b.metric} (${b.unit})`, scale: { domain: [0, Math.max(...tops, 0) * 1.15 || 1], nice: false }, axis: { grid: true, format: '~s' } };
      const color = { field: 'platform', type: 'nominal' as const, sort: platforms, scale: { domain: platforms, range: colours(platforms) }, legend: { title: 'platform', orient: 'top' as const } };
      const dash = { strokeDash: { field: 'method', type: 'nominal' as const, sort: methods, legend: { title: 'start', orient: 'top' as const } } };
      out.push({
        id: slug(`scale-${app}-${b.metric}-timeline`),
        title,
        subtitle,
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          title: { text: wrap(title, Math.floor((width + 60) / 8)), subtitle: wrap(subtitle, Math.floor((width + 60) / 6.3)), anchor: 'start', fontSize: 14, subtitleFontSize: 11, offset: 12 },
          width,
          height: 280,
          background: 'white',
          padding: 8,
          data: { values: points },
          layer: [
            {
              mark: { type: 'line', point: { filled: true, size: 36 }, strokeWidth: 1.8 },
              transform: [{ filter: 'datum.value != null' }],
              encoding: { x, y: { ...y, field: 'value' }, color, detail: { field: 'line' }, ...dash, tooltip: [{ field: 'cell' }, { field: 'second' }, { field: 'value', format: '.3f' }, { field: 'low', format: '.3f' }, { field: 'high', format: '.3f' }, { field: 'n' }] },
            },
            {
              mark: { type: 'rule', strokeWidth: 1.1 },
              transform: [{ filter: 'datum.low != null && datum.high != null' }],
              encoding: { x, y: { ...y, field: 'low' }, y2: { field: 'high' }, color, detail: { field: 'line' } },
            },
          ],
          config: CONFIG,
        } as TopLevelSpec,
      });
    }
  }
  return out;
}
