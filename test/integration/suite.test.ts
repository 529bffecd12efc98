// The README's main command at the smoke profile on bare metal and LXC, end to end: every cell
// gets a summary row with every column, and nothing is left on the host.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SUMMARY_COLUMNS } from '../../analysis/summary.ts';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { leftovers } from './leftovers.ts';
import { tempDir } from '../tmp.ts';

const suite = (args: string[]) => execa(process.execPath, ['--import', 'tsx', 'cli/suite.ts', ...args], { reject: false, all: true, env: { CI: '1' } });

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...rows] = text.trim().split('\n');
  const cols = head!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i]!, v])));
}

test('bad input: one line, exit 2, nothing written', async (t) => {
  const out = tempDir('vb-bad-');
  for (const [args, re] of [
    [['nosuch'], /unknown suite 'nosuch'; valid: .*isolation/],
    [['isolation', '--platforms', 'xen', '--out', out], /unknown platform 'xen'; valid: baremetal, lxc/],
    [['isolation', '--profile', 'huge', '--out', out], /unknown profile 'huge'/],
    [['isolation', '--reps', '-1', '--out', out], /reps/],
  ] as const) {
    const r = await suite([...args]);
    t.is(r.exitCode, 2, r.all);
    t.regex(r.all ?? '', re);
    t.is((r.all ?? '').trim().split('\n').length, 1, `one line: ${r.all}`);
  }
  t.deepEqual(readdirSync(out), [], 'no result directory half-written');
});

test('dry run prints the plan and runs nothing', async (t) => {
  const out = tempDir('vb-dry-');
  const r = await suite(['isolation', '--profile', 'smoke', '--platforms', 'baremetal,lxc', '--dry-run', '--out', out]);
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all ?? '', /34 cells:/);
  t.regex(r.all ?? '', /102 runs, estimated \d+m\d+s/);
  t.deepEqual(readdirSync(out), []);
});

// Two repetitions instead of smoke's three keep CI within its time (34 cells: CPU, disk, memory and
// network rows, ycsb-redis alone); n = 2 still gives every statistic column a value.
const REPS = 2;

test('isolation smoke matrix on baremetal and lxc', async (t) => {
  const out = tempDir('vb-smoke-');
  const t0 = Date.now();
  const r = await suite(['isolation', '--profile', 'smoke', '--platforms', 'baremetal,lxc', '--reps', String(REPS), '--out', out, '--seed', '1']);
  const minutes = (Date.now() - t0) / 60000;
  t.log(`smoke isolation on baremetal+lxc: ${minutes.toFixed(1)} min`);
  t.is(r.exitCode, 0, (r.all ?? '').split('\n').slice(-30).join('\n'));
  const [dir] = readdirSync(join(out, 'isolation'));
  const resultDir = join(out, 'isolation', dir!);
  const manifest = JSON.parse(readFileSync(join(resultDir, 'manifest.json'), 'utf8')) as Manifest;
  t.is(manifest.cells.length, 34);
  t.deepEqual([...new Set(manifest.cells.map((c) => c.resource))].sort(), ['cpu', 'disk', 'memory', 'network']);
  for (const w of ['kernel-compile', 'filebench', 'specjbb-like', 'ycsb-redis', 'rubis']) {
    t.true(manifest.cells.some((c) => c.workload === w && c.neighbour === 'none'), `${w} alone`);
  }
  t.is(manifest.options.seed, 1);
  t.true(manifest.tools.lxc !== 'not installed');
  const samples = readFileSync(join(resultDir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample);
  const runs = new Set(samples.map((s) => `${s.cell}#${s.rep}`));
  t.is(runs.size, 34 * REPS);
  const notOk = samples.filter((s) => s.status !== 'ok');
  t.deepEqual(notOk.map((s) => `${s.cell} ${s.status} ${s.message}`), [], 'every smoke run finishes');
  const lxcSamples = samples.filter((s) => s.platform === 'lxc');
  t.true(lxcSamples.every((s) => typeof s.bootSeconds === 'number' && s.bootSeconds > 0), 'lxc samples carry the launch time');
  t.true(samples.filter((s) => s.platform === 'baremetal').every((s) => s.bootSeconds === undefined), 'bare metal has none');
  const lxcBoots = lxcSamples.map((s) => s.bootSeconds!);
  t.log(`lxc launch: ${Math.min(...lxcBoots).toFixed(3)}-${Math.max(...lxcBoots).toFixed(3)} s`);
  t.true(existsSync(join(resultDir, 'summary.csv')));
  const text = readFileSync(join(resultDir, 'summary.csv'), 'utf8');
  t.deepEqual(text.split('\n')[0]!.split(','), [...SUMMARY_COLUMNS]);
  const rows = parseCsv(text);
  t.deepEqual([...new Set(rows.map((x) => x.cell))].sort(), manifest.cells.map((c) => c.id).sort(), 'a row for every cell');
  const meanOf = new Map(rows.map((x) => [`${x.cell} ${x.metric}`, Number(x.mean)]));
  for (const row of rows) {
    t.is(row.n, String(REPS), `${row.cell} ${row.metric}`);
    for (const col of ['mean', 'sd', 'median', 'min', 'max', 'ci95_low', 'ci95_high']) t.not(row[col], '', `${row.cell} ${row.metric} ${col}`);
    // A count that stayed 0 (RUBiS errors) has no coefficient of variation and no ratio: 0/0.
    if (Number(row.mean) !== 0) t.not(row.cv, '', `${row.cell} ${row.metric} cv`);
    if (row.neighbour_kind !== 'none' && meanOf.get(`${row.reference} ${row.metric}`) !== 0) t.not(row.ratio, '', `${row.cell} ${row.metric} ratio`);
  }
  t.deepEqual(await leftovers(), []);
});
