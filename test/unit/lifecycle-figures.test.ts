// The lifecycle figures and tables on real result directories (test/fixtures/lifecycle, see its
// README): every number of the tables checked against values this test computes itself from the
// samples, and the SVGs' series and labels. One test adds hand-made cells (private storm images, a
// DNF guest, contention, image and cow) to the real samples for the cells no run has made yet.
import test from 'ava';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { naturalCompare, paramPoint, percentile } from '../../analysis/experiment-cells.ts';
import { renderSvg } from '../../analysis/figures.ts';
import { lifecycleFigures } from '../../analysis/lifecycle-figures.ts';
import { lifecycleTables, type Table } from '../../analysis/lifecycle-tables.ts';
import { figuresOfRun, figuresOfSamples } from '../../analysis/run-figures.ts';
import { readSamplesJsonl } from '../../analysis/samples.ts';
import { summarize } from '../../analysis/summary.ts';
import type { Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const smokeDir = join(root, 'test', 'fixtures', 'lifecycle', 'smoke');
const stormDir = join(root, 'test', 'fixtures', 'lifecycle', 'storm');
const ORDER = ['baremetal', 'lxc', 'docker'];

const samplesOf = async (dir: string) => (await readSamplesJsonl(join(dir, 'samples.jsonl'))).samples;

/** The test's own quantiles: median by the middle of the sorted values, others by type 7 written out. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = 0.95 * (s.length - 1);
  const below = s[Math.floor(pos)]!;
  const above = s[Math.ceil(pos)]!;
  return below + (pos - Math.floor(pos)) * (above - below);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The table's rows as objects keyed by its header. */
function records(t: Table): Record<string, string>[] {
  return t.records.map((r) => Object.fromEntries(t.header.map((h, i) => [h, r[i]!])));
}
const table = (ts: Table[], id: string) => {
  const t = ts.find((x) => x.id === id);
  if (!t) throw new Error(`no table ${id}; have ${ts.map((x) => x.id).join(', ')}`);
  return t;
};
/** A number as the tables write it: 6 significant digits. */
const close = (got: string, want: number) => Math.abs(Number(got) - want) <= Math.abs(want) * 1e-5 + 1e-12;

const measured = (samples: Sample[], cell: string, metric: string) => samples.filter((s) => !s.warmup && s.cell === cell && s.metric === metric && s.status === 'ok').map((s) => s.value as number);

test('percentile is type 7 (numpy\u2019s default); params sort naturally; storm and contention params carry N', (t) => {
  t.true(Math.abs(percentile([1, 2, 3, 4], 0.95) - 3.85) < 1e-12); // numpy.percentile([1, 2, 3, 4], 95)
  t.is(percentile([5], 0.95), 5);
  t.true(Number.isNaN(percentile([], 0.5)));
  t.deepEqual(['n16', 'n2-private', 'n1', 'n2', 'n4'].sort(naturalCompare), ['n1', 'n2', 'n2-private', 'n4', 'n16']);
  t.deepEqual(paramPoint('storm', 'n8'), { x: 8, series: 'shared' });
  t.deepEqual(paramPoint('storm', 'n8-private'), { x: 8, series: 'private' });
  t.deepEqual(paramPoint('contention', 'd4'), { x: 4, series: '' });
  t.is(paramPoint('launch', 'cold'), undefined);
});

test('launch table of the real smoke run: p50, p95, mean and n of every platform, cache state and metric, from the raw runs', async (t) => {
  const samples = await samplesOf(smokeDir);
  const rows = records(table(lifecycleTables(samples, summarize(samples), ORDER), 'lifecycle-launch'));
  t.is(rows.length, 3 * 2 * 2);
  t.deepEqual([...new Set(rows.map((r) => r.platform))], ORDER);
  for (const p of ORDER) {
    for (const cache of ['cold', 'warm']) {
      for (const metric of ['ready_s', 'service_s']) {
        const xs = measured(samples, `${p}/launch/${cache}`, metric);
        const r = rows.find((x) => x.platform === p && x.cache === cache && x.metric === metric)!;
        t.is(r.n, String(xs.length));
        t.is(xs.length, 2, 'the smoke run has 2 reps');
        t.true(close(r.p50!, median(xs)), `${p} ${cache} ${metric} p50 ${r.p50} vs ${median(xs)}`);
        t.true(close(r.p95!, p95(xs)), `${p} ${cache} ${metric} p95 ${r.p95} vs ${p95(xs)}`);
        t.true(close(r.mean!, mean(xs)));
        t.true(Number(r.ci95_low) < Number(r.mean) && Number(r.mean) < Number(r.ci95_high));
        t.is(r.dnf, '0');
        t.is(r.unit, 's');
      }
    }
  }
});

test('storm table of the real N = 1..16 run: per platform and N the median over every guest, all_ready_s mean over runs', async (t) => {
  const samples = await samplesOf(stormDir);
  const rows = records(table(lifecycleTables(samples, summarize(samples), ['lxc', 'docker']), 'lifecycle-storm'));
  t.deepEqual(rows.map((r) => `${r.platform} ${r.image} ${r.n_guests}`), ['lxc', 'docker'].flatMap((p) => [1, 2, 4, 8, 16].map((n) => `${p} shared ${n}`)));
  for (const r of rows) {
    const cell = `${r.platform}/storm/n${r.n_guests}`;
    const each = measured(samples, cell, 'ready_s');
    const all = measured(samples, cell, 'all_ready_s');
    t.is(each.length, 3 * Number(r.n_guests), `${cell}: a sample per guest and run`);
    t.is(r['ready_s guests'], String(each.length));
    t.true(close(r['ready_s median [s]']!, median(each)), `${cell} median ${r['ready_s median [s]']} vs ${median(each)}`);
    t.is(r['all_ready_s n'], '3');
    t.true(close(r['all_ready_s mean [s]']!, mean(all)));
    t.true(Number(r['all_ready_s ci95_low [s]']) <= mean(all) && mean(all) <= Number(r['all_ready_s ci95_high [s]']));
    t.is(r['all_ready_s dnf'], '0');
    t.is(r['ready_s dnf guests'], '0');
  }
  // the curve the table describes: the last of 16 guests takes longer than the only one
  const at = (p: string, n: number) => Number(rows.find((r) => r.platform === p && r.n_guests === String(n))!['all_ready_s mean [s]']);
  t.true(at('lxc', 16) > at('lxc', 1) && at('docker', 16) > at('docker', 1));
});

test('footprint table of the real smoke run: disk increment and idle memory per platform; experiments not run are not columns', async (t) => {
  const samples = await samplesOf(smokeDir);
  const ft = table(lifecycleTables(samples, summarize(samples), ORDER), 'lifecycle-footprint');
  t.false(ft.header.some((h) => /image|cow/.test(h)), 'no image or cow cells in this run');
  const rows = records(ft);
  t.deepEqual(rows.map((r) => r.platform), ORDER);
  for (const r of rows) {
    for (const metric of ['disk_bytes', 'memory_bytes']) {
      const xs = measured(samples, `${r.platform}/footprint/idle`, metric);
      t.true(close(r[`footprint ${metric} mean [B]`]!, mean(xs)), `${r.platform} ${metric}`);
      t.is(r[`footprint ${metric} n`], String(xs.length));
    }
  }
});

test('figures of the real storm run: all_ready_s and per-guest ready_s against N, a line per platform, in SVG', async (t) => {
  const { figs, plots, tables } = await figuresOfRun(stormDir);
  t.deepEqual(figs, [], 'storm cells are lines, not neighbour bars');
  t.deepEqual(plots.map((p) => p.id), ['storm-ready_s', 'storm-ready_s-median', 'storm-all_ready_s']);
  t.deepEqual(tables.map((x) => x.id), ['lifecycle-storm']);
  const all = plots.find((p) => p.id === 'storm-all_ready_s')!;
  const values = (all.spec as unknown as { data: { values: { platform: string; line: string; x: number; value: number }[] } }).data.values;
  t.deepEqual([...new Set(values.map((v) => v.line))].sort(), ['docker, shared', 'lxc, shared']);
  t.is(values.length, 10);
  const samples = await samplesOf(stormDir);
  for (const v of values) t.true(Math.abs(v.value - mean(measured(samples, `${v.platform}/storm/n${v.x}`, 'all_ready_s'))) < 1e-9);
  const svg = await renderSvg(all);
  t.true(svg.startsWith('<svg'));
  for (const text of ['guests launched at once (N)', 'all_ready_s (s, lower is better)', '>lxc<', '>docker<', '>16<', '95% CI']) t.true(svg.includes(text), text);
  const med = plots.find((p) => p.id === 'storm-ready_s-median')!;
  const medValues = (med.spec as unknown as { data: { values: { platform: string; x: number; value: number }[] } }).data.values;
  for (const v of medValues) t.true(Math.abs(v.value - median(measured(samples, `${v.platform}/storm/n${v.x}`, 'ready_s'))) < 1e-9);
  t.regex(med.subtitle, /median, whiskers: 25th to 75th percentile/);
});

test('figures of the real smoke run: launch box plots cold vs warm, footprint and launch bars, storm lines', async (t) => {
  const { figs, plots } = await figuresOfRun(smokeDir);
  t.deepEqual(figs.map((f) => f.id), ['launch-ready_s-absolute', 'launch-service_s-absolute', 'footprint-disk_bytes-absolute', 'footprint-memory_bytes-absolute']);
  t.deepEqual(plots.map((p) => p.id), ['storm-ready_s', 'storm-ready_s-median', 'storm-all_ready_s', 'launch-ready_s-distribution', 'launch-service_s-distribution']);
  const bars = figs.find((f) => f.id === 'launch-ready_s-absolute')!;
  t.deepEqual(bars.categories, ['cold', 'warm']);
  t.deepEqual(bars.platforms, ORDER);
  const box = plots.find((p) => p.id === 'launch-service_s-distribution')!;
  const svg = await renderSvg(box);
  for (const text of ['host page cache', '>cold<', '>warm<', '>baremetal<', '>lxc<', '>docker<', 'service_s (s, lower is better)', 'Redis']) t.true(svg.includes(text), text);
  // one dot per measured run: 3 platforms x 2 cache states x 2 reps
  const dots = (box.spec as unknown as { layer: { data: { values: unknown[] } }[] }).layer[1]!.data.values;
  t.is(dots.length, 12);
});

/** Hand-made samples shaped like a real one (cells no run has made yet): a template's fields, new cell and value. */
function handMade(template: Sample, platform: string, experiment: string, param: string, metric: string, rep: number, value: number | null, extra: Partial<Sample> = {}): Sample {
  const { tenant: _t, reference: _r, ...rest } = template;
  return { ...rest, platform, workload: experiment, param, cell: `${platform}/${experiment}/${param}`, metric, rep, value, status: value === null ? 'dnf' : 'ok', unit: metric.endsWith('_bytes') ? 'B' : 's', ...extra };
}

test('hand-made cells beside the real ones: private storm images, a guest that never became ready, contention, image and cow', async (t) => {
  const real = await samplesOf(smokeDir);
  const tpl = real.find((s) => s.cell === 'lxc/storm/n2')!;
  const extra: Sample[] = [];
  for (const rep of [1, 2]) {
    // a private-image storm of 2 on lxc; in rep 2 guest 1 never becomes ready
    extra.push(handMade(tpl, 'lxc', 'storm', 'n2-private', 'ready_s', rep, 0.5 + rep / 10, { tenant: 0 }));
    extra.push(handMade(tpl, 'lxc', 'storm', 'n2-private', 'ready_s', rep, rep === 2 ? null : 0.7, { tenant: 1 }));
    extra.push(handMade(tpl, 'lxc', 'storm', 'n2-private', 'all_ready_s', rep, rep === 2 ? null : 0.7));
    for (const [d, v] of [[0, 0.2], [1, 0.4], [2, 0.9]] as const) extra.push(handMade(tpl, 'lxc', 'contention', `d${d}`, 'ready_s', rep, v + rep / 100, d ? { reference: 'lxc/contention/d0' } : {}));
    extra.push(handMade(tpl, 'docker', 'image', 'build', 'build_s', rep, 30 + rep));
    extra.push(handMade(tpl, 'docker', 'image', 'build', 'image_bytes', rep, 2e8));
    extra.push(handMade(tpl, 'docker', 'cow', 'plain', 'write_s', rep, 10 + rep));
    extra.push(handMade(tpl, 'docker', 'cow', 'layer', 'write_s', rep, 14 + rep, { reference: 'docker/cow/plain' }));
  }
  const samples = [...real, ...extra];
  const tables = lifecycleTables(samples, summarize(samples), ORDER);

  const storm = records(table(tables, 'lifecycle-storm'));
  const priv = storm.find((r) => r.platform === 'lxc' && r.image === 'private')!;
  t.is(priv.n_guests, '2');
  t.is(priv['ready_s dnf guests'], '1');
  t.is(priv['ready_s guests'], '3');
  t.true(close(priv['ready_s median [s]']!, median([0.6, 0.7, 0.7])));
  t.is(priv['all_ready_s n'], '1');
  t.is(priv['all_ready_s dnf'], '1');
  t.true(close(priv['all_ready_s mean [s]']!, 0.7));
  t.deepEqual(storm.filter((r) => r.platform === 'lxc').map((r) => `${r.image} ${r.n_guests}`), ['shared 1', 'shared 2', 'private 2']);

  const foot = records(table(tables, 'lifecycle-footprint'));
  const docker = foot.find((r) => r.platform === 'docker')!;
  t.true(close(docker['image build_s mean [s]']!, 31.5));
  t.true(close(docker['cow layer/plain write_s ratio']!, mean([15, 16]) / mean([11, 12])));
  const ratio = Number(docker['cow layer/plain write_s ratio']);
  t.true(Number(docker['cow layer/plain write_s ratio_ci95_low']) < ratio && ratio < Number(docker['cow layer/plain write_s ratio_ci95_high']), 'a bounded Fieller interval around the ratio');
  const lxc = foot.find((r) => r.platform === 'lxc')!;
  t.is(lxc['image build_s mean [s]'], '', 'lxc has no image cell: an empty field, not 0');
  t.is(lxc['cow layer/plain write_s ratio'], '');
  t.is(lxc['image build_s n'], '');

  const { bars, plots } = lifecycleFigures(samples, summarize(samples), { platformOrder: ORDER });
  t.deepEqual(bars.find((f) => f.id === 'cow-write_s-absolute')?.categories, ['layer', 'plain']);
  t.true(bars.some((f) => f.id === 'image-build_s-absolute'));
  const cont = plots.find((p) => p.id === 'contention-ready_s')!;
  t.deepEqual((cont.spec as unknown as { data: { values: { x: number }[] } }).data.values.map((v) => v.x), [0, 1, 2]);
  t.true((await renderSvg(cont)).includes('neighbours stressing the disk'));
  const each = plots.find((p) => p.id === 'storm-ready_s')!;
  const lines = (each.spec as unknown as { data: { values: { line: string; label: string }[] } }).data.values;
  t.true(lines.some((v) => v.line === 'lxc, private' && v.label === '1/4 DNF guests'));
  const svg = await renderSvg(plots.find((p) => p.id === 'storm-all_ready_s')!);
  t.true(svg.includes('>private<') && svg.includes('>shared<'), 'a legend of image kinds');
  t.true(svg.includes('1/2 DNF'));
  // the neighbour figures of other suites see none of these cells
  t.false(figuresOfSamples(samples).some((f) => f.kind !== 'workload'));
});

test('npm run export on the real smoke run writes the three lifecycle tables', async (t) => {
  const out = tempDir('virtbench-lifecycle-export-');
  const r = await execa(process.execPath, ['--import', 'tsx', join(root, 'cli', 'export.ts'), smokeDir, '--out', out], { cwd: root, reject: false });
  t.is(r.exitCode, 0, r.stderr);
  for (const id of ['lifecycle-footprint', 'lifecycle-launch', 'lifecycle-storm']) t.true(r.stdout.includes(join(out, `${id}.csv`)), id);
  t.regex(await readFile(join(out, 'lifecycle-launch.csv'), 'utf8'), /^platform,cache,metric,unit,p50,p95,mean,ci95_low,ci95_high,n,dnf,errors,accel\nbaremetal,cold,ready_s,s,/);
});
