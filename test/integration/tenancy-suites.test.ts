// The three multi-tenant suites (issue 10: the study's Figures 9-12) at the smoke profile with real
// guests, at the smallest size that proves each works: every tenant of a cell runs at the same time
// in one arena and is one sample per metric, the ratios follow the group's reference axis, the
// study-style figures are drawn, and nothing (guests, arena, swap file) is left. Longer matrices:
// `npm run suite overcommit|allocation|nested` (see the README).
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sample } from '../../core/types.ts';
import { leftovers } from './leftovers.ts';
import { smokeRun, type SmokeRun } from './smoke.ts';

/** Every busy tenant of every cell has one ok sample per metric; idle tenants ('busy-one') none. */
function checkTenants(t: ExecutionContext, run: SmokeRun): void {
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} t${s.tenant} ${s.status} ${s.message}`), [], 'every tenant finishes');
  for (const c of run.manifest.cells) {
    const mine = run.samples.filter((s) => s.cell === c.id);
    const busy = c.busy === 'one' ? 1 : (c.tenants ?? 1);
    t.deepEqual([...new Set(mine.map((s) => s.tenant))].sort(), Array.from({ length: busy }, (_, i) => i), `${c.id}: a sample set per busy tenant`);
    t.true(mine.every((s) => s.tenants === c.tenants && typeof s.oomKills === 'number'), `${c.id}: tenants and OOM kills recorded`);
  }
}

/** summary.csv: a row per cell and metric over every tenant, a ratio wherever the cell has a reference. */
function checkRows(t: ExecutionContext, run: SmokeRun): void {
  t.deepEqual([...new Set(run.rows.map((r) => r.cell))].sort(), run.manifest.cells.map((c) => c.id).sort());
  for (const row of run.rows) {
    const cell = run.manifest.cells.find((c) => c.id === row.cell)!;
    t.is(Number(row.n), cell.busy === 'one' ? 1 : (cell.tenants ?? 1), `${row.cell} ${row.metric}: n is the busy tenants x 1 rep`);
    t.is(row.tenants, String(cell.tenants ?? ''), `${row.cell}: tenants column`);
    if (cell.reference) t.not(row.ratio, '', `${row.cell} ${row.metric}: a ratio against ${cell.reference}`);
  }
}

async function figuresOf(t: ExecutionContext, dir: string, groups: string[]): Promise<void> {
  for (const cmd of ['figures', 'export']) {
    const r = await execa(process.execPath, ['--import', 'tsx', `cli/${cmd}.ts`, dir], { reject: false, all: true });
    t.is(r.exitCode, 0, r.all);
  }
  for (const g of groups) t.true(existsSync(join(dir, 'figures', `${g}.svg`)), `figure ${g}`);
}

const byCell = (samples: Sample[], cell: string, metric: string) => samples.filter((s) => s.cell === cell && s.metric === metric).map((s) => s.value!);

test.serial('allocation on lxc: two tenants with 1 CPU each by cpuset, shares and quota, all or one busy', async (t) => {
  const run = await smokeRun('allocation', ['--platforms', 'lxc', '--workloads', 'kernel-compile', '--reps', '1']);
  t.log(`smoke allocation on lxc (kernel-compile): ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  t.is(run.manifest.cells.length, 6);
  t.deepEqual([...new Set(run.manifest.cells.map((c) => c.cpuPolicy))].sort(), ['cpuset', 'quota', 'shares']);
  checkTenants(t, run);
  checkRows(t, run);
  for (const c of run.manifest.cells.filter((x) => x.cpuPolicy !== 'cpuset')) t.regex(c.reference ?? '', /\/cpuset\//, `${c.id} against cpuset`);
  // a quota of 1 CPU holds a 2-vCPU tenant to 1 CPU's time: its CPU seconds cannot exceed its wall time by much
  for (const s of run.samples.filter((x) => x.cpuPolicy === 'quota' && x.metric === 'cpu_s')) {
    const wall = run.samples.find((x) => x.cell === s.cell && x.tenant === s.tenant && x.metric === 'wall_s')!.value!;
    t.true(s.value! <= wall * 1.1, `${s.cell} t${s.tenant}: cpu ${s.value} s within 1 CPU over ${wall} s`);
  }
  await figuresOf(t, run.dir, ['fig10']);
  t.deepEqual(await leftovers(), []);
});

test.serial('overcommit on baremetal and lxc: 1x, 1.5x and 2x really share the host; lxc soft vs hard at 1.5x', async (t) => {
  const run = await smokeRun('overcommit', ['--platforms', 'baremetal,lxc', '--workloads', 'kernel-compile,ycsb-redis', '--reps', '1']);
  t.log(`smoke overcommit on baremetal+lxc (kernel-compile, ycsb-redis): ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  t.true(typeof run.manifest.options.memoryBudget === 'number' && run.manifest.options.memoryBudget > 0, 'the budget M is in the manifest');
  for (const p of ['baremetal', 'lxc']) {
    const cells = run.manifest.cells.filter((c) => c.platform === p && c.workload === 'kernel-compile');
    t.deepEqual(cells.map((c) => `${c.overcommit}:${c.tenants}`).sort(), ['1.5:3', '1:2', '2:4'], `${p}: N = f x C tenants of 1 vCPU`);
    for (const c of cells.filter((x) => x.overcommit > 1)) t.regex(c.reference ?? '', /\/x1\/t2$/, `${c.id} against 1x`);
    // 4 one-vCPU compiles on 2 CPUs take longer than 2: the tenants really ran at the same time
    const mean = (f: number) => {
      const v = byCell(run.samples, cells.find((c) => c.overcommit === f)!.id, 'wall_s');
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    t.true(mean(2) > mean(1) * 1.3, `${p}: 2x wall ${mean(2).toFixed(2)} s vs 1x ${mean(1).toFixed(2)} s`);
  }
  const soft = run.manifest.cells.find((c) => c.workload === 'ycsb-redis' && c.memoryLimit === 'soft');
  t.truthy(soft, 'lxc soft-limited ycsb-redis at 1.5x');
  t.regex(soft!.reference ?? '', /\/hard\/x1\.5\/t3$/, 'soft against hard');
  checkTenants(t, run);
  checkRows(t, run);
  await figuresOf(t, run.dir, ['fig9', 'fig11-limits']);
  const swaps = readFileSync('/proc/swaps', 'utf8');
  t.notRegex(swaps, /virtbench/, 'the bounded swap file is gone');
  t.deepEqual(await leftovers(), []);
});

test.serial('nested: three kvm VMs against one lxcvm VM of three containers at 1.5x, under TCG', async (t) => {
  const run = await smokeRun('nested', ['--workloads', 'ycsb-redis', '--reps', '1']);
  t.log(`smoke nested (ycsb-redis): ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  t.deepEqual(run.manifest.cells.map((c) => `${c.platform}:${c.tenants}:${c.memoryLimit}`).sort(), ['kvm:3:hard', 'lxcvm:3:soft']);
  t.regex(run.manifest.cells.find((c) => c.platform === 'lxcvm')!.reference ?? '', /^kvm\//, 'lxcvm relative to kvm');
  t.true(run.samples.every((s) => s.accel === run.manifest.accel[s.platform]), 'accel tagged on every sample');
  checkTenants(t, run);
  checkRows(t, run);
  await figuresOf(t, run.dir, ['fig12']);
  t.deepEqual(await leftovers(), []);
});
