// Figures as SVG, rendered in Node without a browser: each FigureData becomes a Vega-Lite spec
// (grouped bars, platforms side by side, 95% CI whiskers, a dashed line at 1 for relative figures,
// 'DNF' written where a platform did not finish), compiled to Vega and rendered by Vega's headless
// SVG renderer.
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../core/atomic.ts';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { FigureData } from './figure-data.ts';

/** One colour per platform, the same in every figure. */
export const PLATFORM_COLOURS: Record<string, string> = {
  baremetal: '#7f7f7f',
  lxc: '#1f77b4',
  kvm: '#ff7f0e',
  lxcvm: '#2ca02c',
  lightvm: '#9467bd',
  docker: '#8c564b',
};
const SPARE = ['#8c564b', '#e377c2', '#17becf', '#bcbd22', '#d62728'];

export function colours(platforms: readonly string[]): string[] {
  let spare = 0;
  return platforms.map((p) => PLATFORM_COLOURS[p] ?? SPARE[spare++ % SPARE.length]!);
}

const BAR_PX = 28;
const GAP_PX = 26;

/** Break text into lines of at most `width` characters, at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The Vega-Lite spec of a figure (exported for tests and for users who want to restyle). */
export function vegaLiteSpec(fig: FigureData): TopLevelSpec {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  const values = fig.points.map((p) => {
    const top = Math.max(...[p.value, p.high].filter(Number.isFinite), 0);
    return {
      category: p.category,
      platform: p.platform,
      value: finite(p.value),
      low: finite(p.low),
      high: finite(p.high),
      label: p.label,
      // labels sit on the bar's top (or its whisker), or on the axis where there is no bar
      labelY: top,
      n: p.n,
      dnf: p.dnf,
      status: p.status,
      cell: p.cell,
    };
  });
  const tops = values.flatMap((v) => [v.value ?? 0, v.high ?? 0]);
  const yMax = Math.max(...tops, fig.measure === 'relative' ? 1 : 0) * 1.12 || 1;
  // group figures' categories carry their settings ('kernel-compile (wall_s): ×1.5, 3 tenants'): room for three lines of them
  const step = Math.max(fig.platforms.length * BAR_PX + GAP_PX, fig.kind === 'group' ? 170 : 0);
  const width = Math.max(360, fig.categories.length * step);
  const x = {
    field: 'category',
    type: 'nominal' as const,
    sort: fig.categories,
    title: fig.xTitle,
    // a long category ('filebench (ops_s)', 'competing: kernel-compile') breaks before '(' or after ':'
    axis: { labelAngle: 0, labelLimit: Math.floor(width / Math.max(1, fig.categories.length)), labelFontSize: 11, titleFontSize: 12, labelExpr: "split(replace(replace(datum.label, ' (', '\\n('), ': ', ':\\n'), '\\n')" },
  };
  const xOffset = { field: 'platform', type: 'nominal' as const, sort: fig.platforms, scale: { paddingInner: 0.08 } };
  const y = {
    type: 'quantitative' as const,
    title: fig.yTitle,
    scale: { domain: [0, yMax], nice: false },
    axis: { titleFontSize: 12, labelFontSize: 11, grid: true, format: fig.measure === 'relative' ? '.2f' : '~s' },
  };
  const layers: unknown[] = [
    {
      mark: { type: 'bar' },
      transform: [{ filter: 'datum.value != null' }],
      encoding: {
        x,
        xOffset,
        y: { ...y, field: 'value' },
        color: { field: 'platform', type: 'nominal', sort: fig.platforms, scale: { domain: fig.platforms, range: colours(fig.platforms) }, legend: { title: 'platform', orient: 'top', titleFontSize: 12, labelFontSize: 12 } },
        tooltip: [{ field: 'cell' }, { field: 'value', format: '.3f' }, { field: 'low', format: '.3f' }, { field: 'high', format: '.3f' }, { field: 'n' }, { field: 'dnf' }],
      },
    },
    {
      mark: { type: 'rule', color: 'black', strokeWidth: 1.2 },
      transform: [{ filter: 'datum.low != null && datum.high != null' }],
      encoding: { x, xOffset, y: { ...y, field: 'low' }, y2: { field: 'high' } },
    },
    {
      mark: { type: 'tick', color: 'black', thickness: 1.2, size: BAR_PX * 0.45, orient: 'horizontal' },
      transform: [{ filter: 'datum.low != null && datum.high != null' }, { fold: ['low', 'high'], as: ['end', 'at'] }],
      encoding: { x, xOffset, y: { ...y, field: 'at' } },
    },
    {
      mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 11, fontWeight: 'bold', color: '#b00000' },
      transform: [{ filter: "datum.label != ''" }],
      encoding: { x, xOffset, y: { ...y, field: 'labelY' }, text: { field: 'label' } },
    },
  ];
  if (fig.kind === 'group') {
    // a run that did not finish (or failed) is a red cross on the axis under its label, never a bar
    layers.push({
      mark: { type: 'point', shape: 'cross', filled: true, size: 90, color: '#b00000' },
      transform: [{ filter: "datum.value == null && datum.label != ''" }],
      encoding: { x, xOffset, y: { ...y, field: 'labelY' } },
    });
  }
  if (fig.measure === 'relative') {
    layers.push({
      data: { values: [{ one: 1 }] },
      mark: { type: 'rule', strokeDash: [5, 4], color: '#333333', strokeWidth: 1 },
      encoding: { y: { ...y, field: 'one' } },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    // about 8 px per character of the 14 px bold title, 6.3 px of the 11 px subtitle
    title: { text: wrap(fig.title, Math.floor((width + 60) / 8)), subtitle: wrap(fig.subtitle, Math.floor((width + 60) / 6.3)), anchor: 'start', fontSize: 14, subtitleFontSize: 11, offset: 12 },
    width,
    height: 260,
    background: 'white',
    padding: 8,
    data: { values },
    layer: layers,
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: { stroke: null }, axis: { domainColor: '#444', tickColor: '#444' } },
  } as TopLevelSpec;
}

/** A figure whose module builds its own Vega-Lite spec (the lifecycle's lines and box plots). */
export interface SpecFigure {
  id: string;
  title: string;
  subtitle: string;
  spec: TopLevelSpec;
}

export type AnyFigure = FigureData | SpecFigure;

export function specOf(fig: AnyFigure): TopLevelSpec {
  return 'spec' in fig ? fig.spec : vegaLiteSpec(fig);
}

/** Render one figure to SVG text. */
export async function renderSvg(fig: AnyFigure): Promise<string> {
  const vg = compile(specOf(fig)).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface WrittenFigure {
  id: string;
  file: string;
  title: string;
}

/**
 * Write every figure as <outDir>/<id>.svg plus index.md listing them with their titles; returns
 * what was written.
 */
export async function writeFigures(figs: readonly AnyFigure[], outDir: string, opts: { vegaLite?: boolean } = {}): Promise<WrittenFigure[]> {
  mkdirSync(outDir, { recursive: true });
  const written: WrittenFigure[] = [];
  for (const fig of figs) {
    const file = join(outDir, `${fig.id}.svg`);
    writeFileAtomic(file, await renderSvg(fig));
    if (opts.vegaLite) writeFileAtomic(join(outDir, `${fig.id}.vl.json`), JSON.stringify(specOf(fig), null, 2) + '\n');
    written.push({ id: fig.id, file, title: fig.title });
  }
  const index = [
    '# Figures',
    '',
    'Relative figures: relative performance = mean / reference mean where higher is better, reference mean / mean where lower is better (1 = as the reference, below 1 = worse). Whiskers: 95% confidence interval (Fieller for ratios, Student t for means). DNF: every measured run of the cell hit its timeout.',
    '',
    ...figs.map((f) => `- [${f.id}.svg](${f.id}.svg): ${f.title} — ${f.subtitle}`),
    '',
  ].join('\n');
  writeFileAtomic(join(outDir, 'index.md'), index);
  return written;
}
