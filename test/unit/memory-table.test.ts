// memory-per-workload.csv on a real baseline result directory (test/fixtures/memory, see its
// README): every number checked against values this test computes itself from the raw lines of
// samples.jsonl; then hand-made variations of those real samples for what must be left out.
import test from 'ava';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableCsv } from '../../analysis/lifecycle-tables.ts';
import { memoryPerWorkloadTable } from '../../analysis/memory-table.ts';
import { readSamplesJsonl } from '../../analysis/samples.ts';
import type { Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const baseDir = join(root, 'test', 'fixtures', 'memory', 'baseline-kernel-compile');
const smokeDir = join(root, 'test', 'fixtures', 'lifecycle', 'smoke');

/** The raw lines, parsed without the harness's reader. */
const rawLines = () =>
  readFileSync(join(baseDir, 'samples.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const close = (got: string, want: number) => Math.abs(Number(got) - want) <= 1e-5 * Math.abs(want);

test('the table of the real q15 baseline (bare metal and lxc, kernel-compile, 10 reps) matches the raw samples', (t) => {
  // per platform: each measured run's peak and mean of the guest cgroup's memory, once per run
  const perRun = new Map<string, { platform: string; max: number; mean: number }>();
  for (const s of rawLines()) {
    if (s.warmup) continue;
    perRun.set(`${s.cell} ${s.rep}`, { platform: s.platform, max: s.context.target_mem_bytes_max, mean: s.context.target_mem_bytes_mean });
  }
  const samples = rawLines() as unknown as Sample[];
  const table = memoryPerWorkloadTable(samples, ['baremetal', 'lxc'])!;
  t.truthy(table);
  t.deepEqual(table.header, ['platform', 'workload', 'n', 'mem_max median [MiB]', 'mem_max max [MiB]', 'mem_mean mean [MiB]', 'accel']);
  t.deepEqual(
    table.records.map((r) => r.slice(0, 3)),
    [
      ['baremetal', 'kernel-compile', '10'],
      ['lxc', 'kernel-compile', '10'],
    ],
  );
  for (const row of table.records) {
    const runs = [...perRun.values()].filter((r) => r.platform === row[0]);
    t.is(runs.length, 10);
    const maxes = runs.map((r) => r.max / 1048576);
    const means = runs.map((r) => r.mean / 1048576);
    t.true(close(row[3]!, median(maxes)), `${row[0]} median ${row[3]} vs ${median(maxes)}`);
    t.true(close(row[4]!, Math.max(...maxes)), `${row[0]} max ${row[4]}`);
    t.true(close(row[5]!, means.reduce((a, b) => a + b, 0) / means.length), `${row[0]} mean ${row[5]}`);
    t.is(row[6], 'native');
  }
});

test('npm run export writes memory-per-workload.csv and says where', async (t) => {
  const out = tempDir('virtbench-memory-export-');
  const r = await execa(process.execPath, ['--import', 'tsx', join(root, 'cli', 'export.ts'), baseDir, '--out', out], { cwd: root, reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.true(r.stdout.split('\n').includes(join(out, 'memory-per-workload.csv')), r.stdout);
  const samples = (await readSamplesJsonl(join(baseDir, 'samples.jsonl'))).samples;
  t.is(await readFile(join(out, 'memory-per-workload.csv'), 'utf8'), tableCsv(memoryPerWorkloadTable(samples, ['baremetal', 'lxc'])!));
});

test('hand-made variations of the real samples: runs without monitors, with neighbours, tenants or a failure are left out', (t) => {
  const real = rawLines();
  const lxcRuns = (ss: Record<string, any>[]) => memoryPerWorkloadTable(ss as unknown as Sample[])!.records.find((r) => r[0] === 'lxc')!;
  // rep 1 of lxc loses its monitor summary: 9 runs left, none of them zero
  const noMon = real.map((s) => (s.platform === 'lxc' && s.rep === 1 && !s.warmup ? { ...s, context: undefined } : s));
  t.is(lxcRuns(noMon)[2], '9');
  // rep 2 failed: left out
  const failed = real.map((s) => (s.platform === 'lxc' && s.rep === 2 && !s.warmup ? { ...s, status: 'error' } : s));
  t.is(lxcRuns(failed)[2], '9');
  // a run with a neighbour, or of a two-tenant cell, with a huge memory figure: not counted
  const lxc3 = real.filter((s) => s.platform === 'lxc' && s.rep === 3 && !s.warmup);
  const huge = (s: Record<string, any>) => ({ ...s, context: { ...s.context, target_mem_bytes_max: 1e15, target_mem_bytes_mean: 1e15 } });
  const extra = [
    ...lxc3.map((s) => ({ ...huge(s), cell: 'lxc/kernel-compile/competing:kernel-compile/cpuset/hard/x1', neighbourKind: 'competing', neighbour: 'kernel-compile' })),
    ...lxc3.map((s) => ({ ...huge(s), cell: 'lxc/kernel-compile/none:none/cpuset/hard/x1/t2', tenants: 2, tenant: 1 })),
  ];
  t.deepEqual(lxcRuns([...real, ...extra]), lxcRuns(real));
  // no run with monitor data (--no-monitors): no table at all; a platform without any: no row
  t.is(memoryPerWorkloadTable(real.map((s) => ({ ...s, context: undefined })) as unknown as Sample[]), undefined);
  const noLxc = memoryPerWorkloadTable(real.map((s) => (s.platform === 'lxc' ? { ...s, context: {} } : s)) as unknown as Sample[])!;
  t.deepEqual(noLxc.records.map((r) => r[0]), ['baremetal']);
});

test('experiment cells (the lifecycle suite) give no memory table', async (t) => {
  const samples = (await readSamplesJsonl(join(smokeDir, 'samples.jsonl'))).samples;
  t.is(memoryPerWorkloadTable(samples), undefined);
});
