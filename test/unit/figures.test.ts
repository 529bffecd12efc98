import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decimalsFor, latexEscape, latexTable, wideCsv, wideTable, writeTables } from '../../analysis/export.ts';
import { figureData, relativePerformance, type FigureData } from '../../analysis/figure-data.ts';
import { renderSvg, vegaLiteSpec, wrap, writeFigures } from '../../analysis/figures.ts';
import { summarize } from '../../analysis/summary.ts';
import { cellOf, syntheticRun, type SyntheticCell } from '../../analysis/synthetic.ts';
import { tempDir } from '../tmp.ts';

/** The isolation suite's shape: kernel-compile beside nothing, a competing compile, a fork bomb (DNF on lxc). */
function isolationRun(extra: SyntheticCell[] = []) {
  const cells: SyntheticCell[] = [];
  for (const platform of ['lxc', 'baremetal']) {
    const ref = cellOf({ platform, workload: 'kernel-compile', metrics: [] }).id;
    const wall = (mean: number) => [{ metric: 'wall_s', unit: 's', better: 'lower' as const, mean, cv: 0.02 }];
    cells.push({ platform, workload: 'kernel-compile', metrics: wall(100) });
    cells.push({ platform, workload: 'kernel-compile', neighbourKind: 'competing', neighbour: 'kernel-compile', reference: ref, metrics: wall(200) });
    cells.push({ platform, workload: 'kernel-compile', neighbourKind: 'adversarial', neighbour: 'fork-bomb', reference: ref, metrics: wall(125), dnfReps: platform === 'lxc' ? [1, 2, 3, 4, 5] : [] });
  }
  return syntheticRun({ seed: 21, reps: 5, cells: [...cells, ...extra] });
}

function fig(figs: FigureData[], id: string): FigureData {
  const f = figs.find((x) => x.id === id);
  if (!f) throw new Error(`no figure ${id}; have ${figs.map((x) => x.id).join(', ')}`);
  return f;
}

test('relative performance turns lower-is-better ratios round, with their interval', (t) => {
  const r = relativePerformance({ ratio: 2, ratio_ci95_low: 1.6, ratio_ci95_high: 2.5, better: 'lower' });
  t.is(r.value, 0.5);
  t.is(r.low, 0.4);
  t.is(r.high, 0.625);
  t.deepEqual(relativePerformance({ ratio: 2, ratio_ci95_low: 1.6, ratio_ci95_high: 2.5, better: 'higher' }), { value: 2, low: 1.6, high: 2.5 });
  t.true(Number.isNaN(relativePerformance({ ratio: 2, ratio_ci95_low: NaN, ratio_ci95_high: NaN, better: 'lower' }).low));
});

test('figures of an isolation run: overview per neighbour kind, per workload relative and absolute', (t) => {
  const figs = figureData(summarize(isolationRun().samples));
  t.deepEqual(figs.map((f) => f.id), ['overview-competing', 'overview-adversarial', 'kernel-compile-wall_s-by-neighbour-relative', 'kernel-compile-wall_s-by-neighbour-absolute']);
  const rel = fig(figs, 'kernel-compile-wall_s-by-neighbour-relative');
  t.deepEqual(rel.platforms, ['baremetal', 'lxc']);
  t.deepEqual(rel.categories, ['competing: kernel-compile', 'adversarial: fork-bomb']);
  t.regex(rel.title, /relative to the same platform with no neighbour/);
  const dnf = rel.points.find((p) => p.platform === 'lxc' && p.category === 'adversarial: fork-bomb')!;
  t.is(dnf.status, 'dnf');
  t.is(dnf.label, 'DNF');
  t.true(Number.isNaN(dnf.value));
  const comp = rel.points.find((p) => p.platform === 'baremetal' && p.category === 'competing: kernel-compile')!;
  t.true(Math.abs(comp.value - 0.5) < 0.03, `twice as slow is half the performance: ${comp.value}`);
  t.true(comp.low < comp.value && comp.value < comp.high);
  const abs = fig(figs, 'kernel-compile-wall_s-by-neighbour-absolute');
  t.is(abs.unit, 's');
  t.regex(abs.yTitle, /wall_s \(s, lower is better\)/);
  t.deepEqual(abs.categories, ['no neighbour', 'competing: kernel-compile', 'adversarial: fork-bomb']);
});

test('overcommit and allocation comparisons appear where those cells exist', (t) => {
  const extra: SyntheticCell[] = [
    { platform: 'lxc', workload: 'kernel-compile', overcommit: 2, metrics: [{ metric: 'wall_s', unit: 's', better: 'lower', mean: 190, cv: 0.02 }] },
    { platform: 'lxc', workload: 'kernel-compile', cpuPolicy: 'shares', metrics: [{ metric: 'wall_s', unit: 's', better: 'lower', mean: 105, cv: 0.02 }] },
  ];
  const figs = figureData(summarize(isolationRun(extra).samples));
  const oc = fig(figs, 'kernel-compile-wall_s-by-overcommit-absolute');
  t.deepEqual(oc.categories, ['×1', '×2']);
  t.is(oc.xTitle, 'overcommit factor');
  const al = fig(figs, 'kernel-compile-wall_s-by-allocation-absolute');
  t.deepEqual(al.categories, ['pinned CPUs, hard memory limit', 'CPU shares, hard memory limit']);
});

test('the SVG has the title, axis titles with units, error bars, a reference line and DNF', async (t) => {
  const figs = figureData(summarize(isolationRun().samples));
  const rel = fig(figs, 'kernel-compile-wall_s-by-neighbour-relative');
  const svg = await renderSvg(rel);
  t.true(svg.startsWith('<svg'));
  t.regex(svg, /kernel-compile: wall_s relative to the same platform/);
  t.regex(svg, /relative performance \(×, higher is better\)/);
  t.regex(svg, />DNF</);
  t.regex(svg, />neighbour</);
  t.regex(svg, /stroke-dasharray="5,4"/);
  const spec = vegaLiteSpec(rel) as unknown as { layer: { mark: { type: string } }[] };
  t.deepEqual(spec.layer.map((l) => l.mark.type), ['bar', 'rule', 'tick', 'text', 'rule']);
  const abs = await renderSvg(fig(figs, 'kernel-compile-wall_s-by-neighbour-absolute'));
  t.regex(abs, /wall_s \(s, lower is better\)/);
});

test('writeFigures writes one SVG per figure and an index', async (t) => {
  const dir = tempDir('virtbench-figures-');
  const figs = figureData(summarize(isolationRun().samples));
  const written = await writeFigures(figs, dir, { vegaLite: true });
  t.is(written.length, figs.length);
  const files = (await readdir(dir)).sort();
  t.true(files.includes('index.md'));
  t.true(files.includes('overview-adversarial.svg'));
  t.true(files.includes('overview-adversarial.vl.json'));
  t.regex(await readFile(join(dir, 'index.md'), 'utf8'), /\[overview-adversarial\.svg\]/);
});

test('wrap breaks at spaces', (t) => {
  t.deepEqual(wrap('a bb ccc dddd', 6), ['a bb', 'ccc', 'dddd']);
});

test('wide table: rows are categories, columns platforms, units in headers, DNF as DNF', (t) => {
  const figs = figureData(summarize(isolationRun().samples));
  const rel = wideTable(fig(figs, 'kernel-compile-wall_s-by-neighbour-relative'));
  t.is(rel.decimals, 2);
  const csv = wideCsv(rel).trim().split('\n');
  t.is(csv[0], 'neighbour,baremetal rel_perf [x],baremetal ci95_low [x],baremetal ci95_high [x],baremetal n,baremetal status,lxc rel_perf [x],lxc ci95_low [x],lxc ci95_high [x],lxc n,lxc status');
  t.regex(csv[1]!, /^competing: kernel-compile,0\.\d\d,0\.\d\d,0\.\d\d,5,,0\.\d\d,0\.\d\d,0\.\d\d,5,$/);
  t.regex(csv[2]!, /^adversarial: fork-bomb,0\.\d\d,0\.\d\d,0\.\d\d,5,,,,,0,DNF$/);
  const abs = wideTable(fig(figs, 'kernel-compile-wall_s-by-neighbour-absolute'));
  t.is(abs.decimals, 0); // 3 significant digits of ~200 s
  t.regex(wideCsv(abs), /^neighbour,baremetal mean \[s\],baremetal ci95_low \[s\]/);
});

test('LaTeX table: booktabs, escaped, units in the header, DNF', (t) => {
  const figs = figureData(summarize(isolationRun().samples));
  const tex = latexTable(wideTable(fig(figs, 'kernel-compile-wall_s-by-neighbour-relative')));
  t.regex(tex, /\\begin\{tabular\}\{lcc\}/);
  t.regex(tex, /\\multicolumn\{2\}\{c\}\{relative performance \(\$\\times\$, higher is better\)\}/);
  t.regex(tex, /Neighbour & baremetal & lxc \\\\/);
  t.regex(tex, /adversarial: fork-bomb & 0\.\d\d \[0\.\d\d, 0\.\d\d\] & DNF \\\\/);
  t.regex(tex, /\\caption\{kernel-compile: wall\\_s relative/);
  t.is(latexEscape('50% of a_b & {c}'), '50\\% of a\\_b \\& \\{c\\}');
});

test('decimals give 3 significant digits to the largest value', (t) => {
  t.is(decimalsFor([0.5, 1.234]), 2);
  t.is(decimalsFor([91.2, 170]), 0);
  t.is(decimalsFor([0.0123]), 4);
  t.is(decimalsFor([12345]), 0);
  t.is(decimalsFor([]), 2);
});

test('writeTables writes csv and tex per figure', async (t) => {
  const dir = tempDir('virtbench-tables-');
  const figs = figureData(summarize(isolationRun().samples));
  const files = writeTables(figs, dir, { latex: true });
  t.is(files.length, figs.length * 2);
  t.true(files.some((f) => f.endsWith('overview-adversarial.tex')));
});
