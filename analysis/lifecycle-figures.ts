// Figures of experiment cells (<platform>/<experiment>/<param>, the lifecycle suite's). Pure:
// samples and summary rows in, figures out.
//
//   lines  experiments whose params carry a number (PARAM_AXES: storm n<N>[-<kind>], contention d<k>):
//          one figure per metric, x = that number, a line per platform and series (storm: image
//          kind, shared or private), mean with 95% CI whiskers; per-guest metrics (storm ready_s)
//          also as median with interquartile whiskers. DNF written at the point; a point where
//          nothing finished is a red cross on the axis.
//   boxes  launch: one figure per metric, the distribution of every measured run per platform,
//          cold against warm host page cache (box: quartiles, whiskers: min to max, dots: runs).
//   bars   every other experiment (launch, footprint, image, cow, contention...): one absolute
//          figure per experiment and metric, params on the x axis, platforms side by side (the
//          generic bar machinery, so export writes their wide tables too).
// New params and metrics of these experiments appear without code changes.
import type { TopLevelSpec } from 'vega-lite';
import { distinct, platformSort, point, PLATFORM_ORDER, slug, type FigureData, type FigureOptions } from './figure-data.ts';
import { colours, wrap, type SpecFigure } from './figures.ts';
import { experimentGroups, naturalCompare, PARAM_AXES, paramPoint, percentile, type ExperimentGroup } from './experiment-cells.ts';
import type { SummaryRow } from './summary.ts';
import type { Sample } from '../core/types.ts';
import { parseTimelineMetric } from '../core/timeline-metrics.ts';

/** What a metric measures, in words; others are named by metric and unit. */
const METRIC_WORDS: Record<string, string> = {
  ready_s: 'seconds from launch until the guest answers a command',
  service_s: 'seconds from launch until Redis inside answers PING',
  all_ready_s: 'seconds until the last guest of the storm answers',
  disk_bytes: 'disk bytes a new guest adds',
  memory_bytes: 'host memory an idle guest holds',
  image_bytes: 'image size',
  build_s: 'image build time',
  write_s: 'seconds of the write-heavy job',
};

const metricWords = (metric: string, unit: string) => METRIC_WORDS[metric] ?? `${metric} (${unit})`;

/** Order of the lifecycle's experiments in figure lists; others follow by name. */
const EXPERIMENT_ORDER = ['launch', 'storm', 'contention', 'footprint', 'image', 'cow'];
const experimentRank = (e: string) => (EXPERIMENT_ORDER.includes(e) ? EXPERIMENT_ORDER.indexOf(e) : EXPERIMENT_ORDER.length);

/** Experiments whose cells have their own table (storm): no bar figures of them. */
const NO_BARS = new Set(['storm']);

function accelNote(groups: readonly ExperimentGroup[]): string {
  const tcg = distinct(groups.filter((g) => g.accel.includes('tcg')).map((g) => g.platform));
  return tcg.length > 0 ? `; ${tcg.join(', ')} under TCG emulation` : '';
}

function titleBlock(title: string, subtitle: string, width: number) {
  return { text: wrap(title, Math.floor((width + 60) / 8)), subtitle: wrap(subtitle, Math.floor((width + 60) / 6.3)), anchor: 'start', fontSize: 14, subtitleFontSize: 11, offset: 12 };
}

const CONFIG = { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: { stroke: null }, axis: { domainColor: '#444', tickColor: '#444', titleFontSize: 12, labelFontSize: 11 } };

function dnfLabel(dnf: number, errors: number, runs: number, finished: number): string {
  if (finished === 0) return dnf > 0 ? 'DNF' : errors > 0 ? 'error' : '';
  const parts = [...(dnf > 0 ? [`${dnf}/${runs} DNF`] : []), ...(errors > 0 ? [`${errors}/${runs} error`] : [])];
  return parts.join(', ');
}

interface LinePoint {
  platform: string;
  series: string;
  /** Legend entry: the platform, with the series when there is one. */
  line: string;
  x: number;
  value: number | null;
  low: number | null;
  high: number | null;
  labelY: number;
  label: string;
  n: number;
  cell: string;
}

type Centre = 'mean' | 'median';

function linePoints(groups: readonly ExperimentGroup[], rows: ReadonlyMap<string, SummaryRow>, centre: Centre): LinePoint[] {
  const fin = (x: number) => (Number.isFinite(x) ? x : null);
  return groups.map((g) => {
    const at = paramPoint(g.experiment, g.param)!;
    const row = rows.get(`${g.cell}\u0000${g.metric}`);
    let value: number;
    let low: number;
    let high: number;
    if (centre === 'mean') {
      value = row?.mean ?? NaN;
      low = row?.ci95_low ?? NaN;
      high = row?.ci95_high ?? NaN;
    } else {
      value = percentile(g.values, 0.5);
      low = g.values.length > 1 ? percentile(g.values, 0.25) : NaN;
      high = g.values.length > 1 ? percentile(g.values, 0.75) : NaN;
    }
    // a per-guest metric counts guests: say so beside its DNF count
    const total = g.values.length + g.dnf + g.errors;
    const label = dnfLabel(g.dnf, g.errors, total, g.values.length);
    return {
      platform: g.platform,
      series: at.series,
      line: at.series === '' ? g.platform : `${g.platform}, ${at.series}`,
      x: at.x,
      value: fin(value),
      low: fin(low),
      high: fin(high),
      labelY: Math.max(...[value, high].filter(Number.isFinite), 0),
      label: label === '' ? '' : g.perGuest ? `${label} guests` : label,
      n: g.values.length,
      cell: g.cell,
    };
  });
}

function lineSpec(title: string, subtitle: string, xTitle: string, yTitle: string, log2: boolean, points: LinePoint[], platforms: string[]): TopLevelSpec {
  const width = 460;
  const xs = distinct(points.map((p) => p.x)).sort((a, b) => a - b);
  const series = distinct(points.map((p) => p.series)).sort((a, b) => (a === 'shared' ? -1 : b === 'shared' ? 1 : naturalCompare(a, b)));
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: xTitle,
    scale: log2 && xs.every((v) => v > 0) ? { type: 'log' as const, base: 2, domain: [Math.min(...xs) / 1.25, Math.max(...xs) * 1.25] } : { zero: true, nice: false, domain: [Math.min(0, ...xs), Math.max(...xs) + 0.5] },
    axis: { values: xs, format: 'd', grid: false },
  };
  const tops = points.flatMap((p) => [p.value ?? 0, p.high ?? 0]);
  const y = { type: 'quantitative' as const, title: yTitle, scale: { domain: [0, Math.max(...tops, 0) * 1.15 || 1], nice: false }, axis: { grid: true, format: '~s' } };
  const color = { field: 'platform', type: 'nominal' as const, sort: platforms, scale: { domain: platforms, range: colours(platforms) }, legend: { title: 'platform', orient: 'top' as const } };
  const dash = series.length > 1 ? { strokeDash: { field: 'series', type: 'nominal' as const, sort: series, legend: { title: 'image', orient: 'top' as const } } } : {};
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: titleBlock(title, subtitle, width),
    width,
    height: 280,
    background: 'white',
    padding: 8,
    data: { values: points },
    layer: [
      {
        mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 1.8 },
        transform: [{ filter: 'datum.value != null' }],
        encoding: { x, y: { ...y, field: 'value' }, color, detail: { field: 'line' }, ...dash, tooltip: [{ field: 'cell' }, { field: 'value', format: '.3f' }, { field: 'low', format: '.3f' }, { field: 'high', format: '.3f' }, { field: 'n' }] },
      },
      {
        mark: { type: 'rule', strokeWidth: 1.2 },
        transform: [{ filter: 'datum.low != null && datum.high != null' }],
        encoding: { x, y: { ...y, field: 'low' }, y2: { field: 'high' }, color },
      },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -4, fontSize: 11, fontWeight: 'bold', color: '#b00000' },
        transform: [{ filter: "datum.label != ''" }],
        encoding: { x, y: { ...y, field: 'labelY' }, text: { field: 'label' } },
      },
      {
        mark: { type: 'point', shape: 'cross', filled: true, size: 90, color: '#b00000' },
        transform: [{ filter: "datum.value == null && datum.label != ''" }],
        encoding: { x, y: { ...y, field: 'labelY' } },
      },
    ],
    config: CONFIG,
  } as TopLevelSpec;
}

/** Line figures of the experiments on PARAM_AXES: per metric, mean with 95% CI; per-guest metrics also median with IQR. */
function lineFigures(groups: readonly ExperimentGroup[], rows: ReadonlyMap<string, SummaryRow>, order: readonly string[], suite: string): SpecFigure[] {
  const out: SpecFigure[] = [];
  for (const axis of PARAM_AXES) {
    const mine = groups.filter((g) => g.experiment === axis.experiment && paramPoint(g.experiment, g.param) !== undefined);
    for (const metric of distinct(mine.map((g) => g.metric))) {
      const of = mine.filter((g) => g.metric === metric);
      const first = of[0]!;
      const platforms = platformSort(distinct(of.map((g) => g.platform)), order);
      const perGuest = of.some((g) => g.perGuest);
      const words = metricWords(metric, first.unit);
      const reps = distinct(of.map((g) => g.runs)).sort((a, b) => a - b);
      const repText = `${reps.length === 1 ? reps[0] : `${reps[0]}-${reps[reps.length - 1]}`} runs per point${perGuest ? ', every guest of each run pooled' : ''}`;
      const yTitle = `${metric} (${first.unit}, ${first.better} is better)`;
      const centres: Centre[] = perGuest ? ['mean', 'median'] : ['mean'];
      for (const centre of centres) {
        const how = centre === 'mean' ? 'line: mean, whiskers: 95% CI' : 'line: median, whiskers: 25th to 75th percentile';
        const title = `${suite}: ${axis.experiment}, ${centre === 'median' ? 'median ' : perGuest ? 'mean ' : ''}${words}, against ${axis.xTitle}`;
        out.push({
          id: slug(`${axis.experiment}-${metric}${centre === 'median' ? '-median' : ''}`),
          title,
          subtitle: `${repText}${accelNote(of)}; ${how}; DNF: runs or guests that never became ready`,
          spec: lineSpec(title, `${repText}${accelNote(of)}; ${how}; DNF: runs or guests that never became ready`, axis.xTitle, yTitle, axis.log2, linePoints(of, rows, centre), platforms),
        });
      }
    }
  }
  return out;
}

/** Box plots of launch latency: every measured run per platform and cache state. */
function launchFigures(samples: readonly Sample[], groups: readonly ExperimentGroup[], order: readonly string[], suite: string): SpecFigure[] {
  const mine = groups.filter((g) => g.experiment === 'launch');
  const out: SpecFigure[] = [];
  for (const metric of distinct(mine.map((g) => g.metric))) {
    const of = mine.filter((g) => g.metric === metric);
    const first = of[0]!;
    const platforms = platformSort(distinct(of.map((g) => g.platform)), order);
    const params = distinct(of.map((g) => g.param)).sort(naturalCompare);
    const values = samples
      .filter((s) => !s.warmup && s.workload === 'launch' && s.metric === metric && s.status === 'ok' && typeof s.param === 'string')
      .map((s) => ({ platform: s.platform, param: s.param!, value: s.value as number, cell: s.cell, rep: s.rep }));
    const labels = of.flatMap((g) => {
      const label = dnfLabel(g.dnf, g.errors, g.values.length + g.dnf + g.errors, g.values.length);
      return label === '' ? [] : [{ platform: g.platform, param: g.param, label, labelY: g.values.length ? Math.max(...g.values) : 0 }];
    });
    const width = Math.max(360, platforms.length * (params.length * 34 + 40));
    const ns = distinct(of.map((g) => g.values.length)).sort((a, b) => a - b);
    const title = `${suite}: launch latency, ${metricWords(metric, first.unit)}, host page cache ${params.join(' and ')}`;
    const subtitle = `${ns.length === 1 ? ns[0] : `${ns[0]}-${ns[ns.length - 1]}`} runs per box${accelNote(of)}; box: 25th to 75th percentile with the median, whiskers: min to max, dots: runs`;
    const x = { field: 'platform', type: 'nominal' as const, sort: platforms, title: 'platform', axis: { labelAngle: 0 } };
    const xOffset = { field: 'param', type: 'nominal' as const, sort: params };
    const yMax = Math.max(...values.map((v) => v.value), 0) * 1.12 || 1;
    const y = { type: 'quantitative' as const, title: `${metric} (${first.unit}, ${first.better} is better)`, scale: { domain: [0, yMax], nice: false }, axis: { grid: true } };
    const color = { field: 'param', type: 'nominal' as const, sort: params, title: 'host page cache', scale: { domain: params, range: ['#4c78a8', '#f58518', '#54a24b', '#b279a2'].slice(0, Math.max(1, params.length)) }, legend: { orient: 'top' as const } };
    out.push({
      id: slug(`launch-${metric}-distribution`),
      title,
      subtitle,
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: titleBlock(title, subtitle, width),
        width,
        height: 280,
        background: 'white',
        padding: 8,
        layer: [
          {
            data: { values },
            mark: { type: 'boxplot', extent: 'min-max', size: 22, median: { color: 'black' } },
            encoding: { x, xOffset, y: { ...y, field: 'value' }, color },
          },
          {
            data: { values },
            mark: { type: 'point', filled: true, size: 18, color: 'black', opacity: 0.55 },
            encoding: { x, xOffset, y: { ...y, field: 'value' }, tooltip: [{ field: 'cell' }, { field: 'rep' }, { field: 'value', format: '.3f' }] },
          },
          {
            data: { values: labels },
            mark: { type: 'text', baseline: 'bottom', dy: -4, fontSize: 11, fontWeight: 'bold', color: '#b00000' },
            encoding: { x, xOffset, y: { ...y, field: 'labelY' }, text: { field: 'label' } },
          },
        ],
        config: CONFIG,
      } as TopLevelSpec,
    });
  }
  return out;
}

/** Bar figures of every experiment without lines of its own: per experiment and metric, params on the x axis. */
function barFigures(groups: readonly ExperimentGroup[], rows: readonly SummaryRow[], order: readonly string[], suite: string): FigureData[] {
  const byCell = new Map(rows.map((r) => [`${r.cell}\u0000${r.metric}`, r]));
  const out: FigureData[] = [];
  // runs are shuffled: figures follow the experiments' order, not the first run's
  // per-second service timelines (the scaling suite's) are lines of their own (analysis/scaling-figures.ts)
  const mine = groups.filter((g) => !NO_BARS.has(g.experiment) && parseTimelineMetric(g.metric) === undefined).sort((a, b) => experimentRank(a.experiment) - experimentRank(b.experiment) || (a.experiment < b.experiment ? -1 : a.experiment > b.experiment ? 1 : 0));
  for (const em of distinct(mine.map((g) => `${g.experiment}\u0000${g.metric}`))) {
    const of = mine.filter((g) => `${g.experiment}\u0000${g.metric}` === em);
    const first = of[0]!;
    const params = distinct(of.map((g) => g.param)).sort(naturalCompare);
    const points = of.flatMap((g) => {
      const r = byCell.get(`${g.cell}\u0000${g.metric}`);
      return r ? [point(r, g.param, 'absolute', byCell)] : [];
    });
    const direction = `${first.better} is better`;
    out.push({
      id: slug(`${first.experiment}-${first.metric}-absolute`),
      kind: 'workload',
      measure: 'absolute',
      title: `${suite}: ${first.experiment}, ${metricWords(first.metric, first.unit)} (${first.unit}, ${direction})`,
      subtitle: `${[accelNote(of).slice(2), 'bars: mean, whiskers: 95% CI'].filter((x) => x !== '').join('; ')}`,
      xTitle: first.experiment === 'launch' ? 'host page cache' : `${first.experiment} cell`,
      yTitle: `${first.metric} (${first.unit}, ${direction})`,
      unit: first.unit,
      categories: params,
      platforms: platformSort(distinct(of.map((g) => g.platform)), order),
      points,
    });
  }
  return out;
}

export interface LifecycleFigures {
  /** Bar figures (FigureData): drawn and exported as wide tables like every other figure. */
  bars: FigureData[];
  /** Line and box figures: drawn only (their numbers are in the lifecycle tables). */
  plots: SpecFigure[];
}

/** Every figure of the experiment cells among these samples (none when there are none). */
export function lifecycleFigures(samples: readonly Sample[], rows: readonly SummaryRow[], opts: FigureOptions = {}): LifecycleFigures {
  const order = opts.platformOrder ?? PLATFORM_ORDER;
  const groups = experimentGroups(samples);
  if (groups.length === 0) return { bars: [], plots: [] };
  const suite = samples.find((s) => typeof s.param === 'string')?.suite ?? '';
  const byCell = new Map(rows.map((r) => [`${r.cell}\u0000${r.metric}`, r]));
  return {
    bars: barFigures(groups, rows, order, suite),
    plots: [...lineFigures(groups, byCell, order, suite), ...launchFigures(samples, groups, order, suite)],
  };
}
