// Figures 9-12 of the overcommit, allocation and nested suites, from hand-made sample sets built
// here (synthetic values chosen per tenant and repetition, not any tool's output), shaped as
// ISSUE10-PLAN.md says the runner writes them: one sample per tenant, metric and repetition,
// with the cell's group, tenants, busy and cpusPerTenant; referenceAxis from the manifest's cells.
import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { wideCsv, wideTable } from '../../analysis/export.ts';
import { figureData, type FigureData, type FigurePoint } from '../../analysis/figure-data.ts';
import { renderSvg, vegaLiteSpec } from '../../analysis/figures.ts';
import { cellInfo } from '../../analysis/group-figures.ts';
import { figuresOfRun, figuresOfSamples } from '../../analysis/run-figures.ts';
import { ratioCI } from '../../analysis/stats.ts';
import { summarize } from '../../analysis/summary.ts';
import { cellOf, syntheticRun, writeRun } from '../../analysis/synthetic.ts';
import { cellId } from '../../core/matrix.ts';
import type { Accel, Better, Cell, CpuPolicy, LimitKind, Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';

const METRICS: Record<string, { unit: string; better: Better }> = {
  wall_s: { unit: 's', better: 'lower' },
  bops: { unit: 'bops', better: 'higher' },
  'read-latency-avg': { unit: 'us', better: 'lower' },
  'update-latency-avg': { unit: 'us', better: 'lower' },
  throughput: { unit: 'ops/s', better: 'higher' },
};
const WORKLOAD_METRICS: Record<string, string[]> = {
  'kernel-compile': ['wall_s'],
  'specjbb-like': ['bops'],
  'ycsb-redis': ['throughput', 'read-latency-avg', 'update-latency-avg'],
};

/** A value per tenant and repetition: a number, or what happened instead. */
type Outcome = number | 'dnf' | 'error';

interface HandCell {
  suite: string;
  platform: string;
  workload: string;
  group: string;
  referenceAxis?: Cell['referenceAxis'];
  overcommit?: number;
  cpuPolicy?: CpuPolicy;
  memoryLimit?: LimitKind;
  tenants?: number;
  busy?: 'all' | 'one';
  cpusPerTenant?: number;
  reference?: string;
  accel?: Accel;
  /** outcomes[metric][tenant][rep]; the metric's first outcome decides a run's status. */
  outcomes: Record<string, Outcome[][]>;
}

/** The cell id as the plan defines it: the existing id, then /t<N>, /busy-one, /c<cpus>. */
function idOf(c: HandCell): string {
  const base = cellId({ platform: c.platform, workload: c.workload, resource: 'cpu', neighbourKind: 'none', neighbour: 'none', cpuPolicy: c.cpuPolicy ?? 'cpuset', memoryLimit: c.memoryLimit ?? 'hard', overcommit: c.overcommit ?? 1 });
  return `${base}${(c.tenants ?? 1) > 1 ? `/t${c.tenants}` : ''}${c.busy === 'one' ? '/busy-one' : ''}${c.cpusPerTenant ? `/c${c.cpusPerTenant}` : ''}`;
}

function cellOfHand(c: HandCell): Cell {
  return {
    id: idOf(c),
    platform: c.platform,
    workload: c.workload,
    resource: 'cpu',
    neighbourKind: 'none',
    neighbour: 'none',
    cpuPolicy: c.cpuPolicy ?? 'cpuset',
    memoryLimit: c.memoryLimit ?? 'hard',
    overcommit: c.overcommit ?? 1,
    ...(c.reference ? { reference: c.reference } : {}),
    ...(c.tenants ? { tenants: c.tenants } : {}),
    ...(c.busy ? { busy: c.busy } : {}),
    ...(c.cpusPerTenant ? { cpusPerTenant: c.cpusPerTenant } : {}),
    group: c.group,
    ...(c.referenceAxis ? { referenceAxis: c.referenceAxis } : {}),
  };
}

function samplesOf(c: HandCell): Sample[] {
  const cell = cellOfHand(c);
  const out: Sample[] = [];
  for (const [metric, perTenant] of Object.entries(c.outcomes)) {
    perTenant.forEach((reps, tenant) =>
      reps.forEach((o, i) => {
        out.push({
          suite: c.suite,
          cell: cell.id,
          platform: cell.platform,
          workload: cell.workload,
          resource: 'cpu',
          neighbourKind: 'none',
          neighbour: 'none',
          cpuPolicy: cell.cpuPolicy,
          memoryLimit: cell.memoryLimit,
          overcommit: cell.overcommit,
          ...(cell.reference ? { reference: cell.reference } : {}),
          rep: i + 1,
          warmup: false,
          metric,
          value: typeof o === 'number' ? o : null,
          unit: METRICS[metric]!.unit,
          better: METRICS[metric]!.better,
          status: typeof o === 'number' ? 'ok' : o,
          ...(o === 'dnf' ? { message: 'did not finish within 300 s' } : o === 'error' ? { message: 'tenant 3 was killed by the OOM killer' } : {}),
          accel: c.accel ?? 'native',
          vcpus: 1,
          memoryBytes: 2 ** 30,
          start: '2026-12-01T00:00:00.000Z',
          end: '2026-12-01T00:00:10.000Z',
          tenant,
          tenants: c.tenants ?? 1,
          group: c.group,
          ...(c.busy ? { busy: c.busy } : {}),
          ...(c.cpusPerTenant ? { cpusPerTenant: c.cpusPerTenant } : {}),
        });
      }),
    );
  }
  return out;
}

/** Three repetitions per tenant around `mean`, tenant t offset by t*spread (tenants differ, as under overcommit). */
function around(mean: number, tenants: number, spread = 0): Outcome[][] {
  return Array.from({ length: tenants }, (_, t) => [0.97, 1, 1.03].map((f) => mean * f + t * spread));
}

function outcomesFor(workload: string, mean: (metric: string) => number, tenants: number, spread = 0): Record<string, Outcome[][]> {
  return Object.fromEntries(WORKLOAD_METRICS[workload]!.map((m) => [m, around(mean(m), tenants, spread)]));
}

const MEANS: Record<string, number> = { wall_s: 100, bops: 1000, throughput: 5000, 'read-latency-avg': 200, 'update-latency-avg': 300 };

/** The overcommit suite (Figures 9 and 11) as the plan describes it, on a 2-CPU host with 1-vCPU tenants. */
function overcommitCells(): HandCell[] {
  const cells: HandCell[] = [];
  const slowdown: Record<string, number> = { lxc: 1.0, kvm: 1.2, lightvm: 1.4 };
  for (const platform of ['lxc', 'kvm', 'lightvm']) {
    for (const workload of ['kernel-compile', 'specjbb-like']) {
      const accel = platform === 'lxc' ? 'native' : 'tcg';
      const one: HandCell = { suite: 'overcommit', platform, workload, group: 'fig9', overcommit: 1, tenants: 2, accel, outcomes: outcomesFor(workload, (m) => MEANS[m]! * (METRICS[m]!.better === 'lower' ? slowdown[platform]! : 1 / slowdown[platform]!), 2, 5) };
      cells.push(one);
      for (const f of [1.5, 2]) {
        const tenants = f * 2;
        // performance falls with f: times grow by f, throughput shrinks by f (platform-specific base)
        const base = (m: string) => MEANS[m]! * (METRICS[m]!.better === 'lower' ? slowdown[platform]! * f : 1 / (slowdown[platform]! * f));
        const c: HandCell = { suite: 'overcommit', platform, workload, group: 'fig9', referenceAxis: 'overcommit', overcommit: f, tenants, accel, reference: idOf(one), outcomes: outcomesFor(workload, base, tenants, 5) };
        // lightvm's kernel compile at x2 never finishes; one kvm specjbb tenant at x2 is OOM-killed once
        if (platform === 'lightvm' && workload === 'kernel-compile' && f === 2) c.outcomes = { wall_s: Array.from({ length: tenants }, () => ['dnf', 'dnf', 'dnf']) };
        if (platform === 'kvm' && workload === 'specjbb-like' && f === 2) c.outcomes.bops![3]![1] = 'error';
        cells.push(c);
      }
    }
  }
  const lxcJbb15 = cells.find((c) => c.platform === 'lxc' && c.workload === 'specjbb-like' && c.overcommit === 1.5)!;
  const kvmJbb2 = cells.find((c) => c.platform === 'kvm' && c.workload === 'specjbb-like' && c.overcommit === 2)!;
  // Figure 11 (limits): soft vs hard at 1.5x; specjbb's hard cell is fig9's lxc x1.5 cell
  cells.push({ suite: 'overcommit', platform: 'lxc', workload: 'specjbb-like', group: 'fig11-limits', referenceAxis: 'memoryLimit', overcommit: 1.5, tenants: 3, memoryLimit: 'soft', reference: idOf(lxcJbb15), outcomes: outcomesFor('specjbb-like', () => 1000 / 1.2, 3, 5) });
  const ycsbHard: HandCell = { suite: 'overcommit', platform: 'lxc', workload: 'ycsb-redis', group: 'fig11-limits', overcommit: 1.5, tenants: 3, outcomes: outcomesFor('ycsb-redis', (m) => MEANS[m]!, 3, 4) };
  cells.push(ycsbHard);
  cells.push({ suite: 'overcommit', platform: 'lxc', workload: 'ycsb-redis', group: 'fig11-limits', referenceAxis: 'memoryLimit', overcommit: 1.5, tenants: 3, memoryLimit: 'soft', reference: idOf(ycsbHard), outcomes: outcomesFor('ycsb-redis', (m) => (METRICS[m]!.better === 'lower' ? MEANS[m]! * 0.75 : MEANS[m]! * 1.1), 3, 4) });
  // Figure 11 (platform): lxc with soft limits against kvm with hard limits at 2x (kvm's cell is fig9's)
  cells.push({ suite: 'overcommit', platform: 'lxc', workload: 'specjbb-like', group: 'fig11-platform', referenceAxis: 'platform', overcommit: 2, tenants: 4, memoryLimit: 'soft', reference: idOf(kvmJbb2), outcomes: outcomesFor('specjbb-like', () => 1000 / 1.5, 4, 5) });
  return cells;
}

function allocationCells(): HandCell[] {
  const cells: HandCell[] = [];
  for (const platform of ['baremetal', 'lxc']) {
    for (const workload of ['specjbb-like', 'kernel-compile']) {
      for (const busy of ['all', 'one'] as const) {
        const common = { suite: 'allocation', platform, workload, group: 'fig10', tenants: 2, cpusPerTenant: 1, ...(busy === 'one' ? { busy } : {}) };
        const tenantsMeasured = busy === 'one' ? 1 : 2;
        const cpuset: HandCell = { ...common, cpuPolicy: 'cpuset', outcomes: outcomesFor(workload, (m) => MEANS[m]!, tenantsMeasured, 3) };
        cells.push(cpuset);
        // shares: 0.8x when all are busy, 1.6x when only the measured one is (it may use the idle core); quota: 0.9x either way
        const factor = (policy: CpuPolicy) => (policy === 'shares' ? (busy === 'all' ? 0.8 : 1.6) : 0.9);
        for (const cpuPolicy of ['shares', 'quota'] as const) {
          const perf = factor(cpuPolicy);
          cells.push({ ...common, cpuPolicy, referenceAxis: 'cpuPolicy', reference: idOf(cpuset), outcomes: outcomesFor(workload, (m) => (METRICS[m]!.better === 'lower' ? MEANS[m]! / perf : MEANS[m]! * perf), tenantsMeasured, 3) });
        }
      }
    }
  }
  return cells;
}

function nestedCells(): HandCell[] {
  const cells: HandCell[] = [];
  for (const workload of ['kernel-compile', 'ycsb-redis']) {
    const kvm: HandCell = { suite: 'nested', platform: 'kvm', workload, group: 'fig12', overcommit: 1.5, tenants: 3, accel: 'tcg', outcomes: outcomesFor(workload, (m) => MEANS[m]!, 3, 2) };
    cells.push(kvm);
    cells.push({ suite: 'nested', platform: 'lxcvm', workload, group: 'fig12', referenceAxis: 'platform', overcommit: 1.5, tenants: 3, memoryLimit: 'soft', accel: 'tcg', reference: idOf(kvm), outcomes: outcomesFor(workload, (m) => (METRICS[m]!.better === 'lower' ? MEANS[m]! * 0.8 : MEANS[m]! * 1.25), 3, 2) });
  }
  return cells;
}

function figs(cells: HandCell[], withManifest = true): FigureData[] {
  return figuresOfSamples(cells.flatMap(samplesOf), withManifest ? cells.map(cellOfHand) : []);
}

function fig(all: FigureData[], id: string): FigureData {
  const f = all.find((x) => x.id === id);
  if (!f) throw new Error(`no figure ${id}; have ${all.map((x) => x.id).join(', ')}`);
  return f;
}

function pt(f: FigureData, category: string, platform: string): FigurePoint {
  const p = f.points.find((x) => x.category === category && x.platform === platform);
  if (!p) throw new Error(`no point ${category} / ${platform} in ${f.id}: ${f.points.map((x) => `${x.category}/${x.platform}`).join('; ')}`);
  return p;
}

/** Every ok value of a hand-made cell's metric, over tenants and repetitions (what the cell's value pools). */
function pooled(c: HandCell, metric: string): number[] {
  return c.outcomes[metric]!.flat().filter((o): o is number => typeof o === 'number');
}

/** Relative performance of a against reference b, as summary.csv's ratio and its Fieller CI turned round for lower-is-better. */
function expectedRelative(a: HandCell, b: HandCell, metric: string) {
  const r = ratioCI(pooled(a, metric), pooled(b, metric));
  return METRICS[metric]!.better === 'higher' ? { value: r.ratio, low: r.low, high: r.high } : { value: 1 / r.ratio, low: 1 / r.high, high: 1 / r.low };
}

function near(t: { true: (x: boolean, m?: string) => void }, actual: number, expected: number, what: string) {
  t.true(Number.isFinite(expected) && Math.abs(actual - expected) < 1e-9 * Math.abs(expected), `${what}: ${actual} vs expected ${expected}`);
}

const find = (cells: HandCell[], where: Partial<HandCell>) => {
  const hits = cells.filter((c) => Object.entries(where).every(([k, v]) => (c as unknown as Record<string, unknown>)[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} cells match ${JSON.stringify(where)}`);
  return hits[0]!;
};

test('overcommit: Figure 9 and both Figure 11 panels, one headline figure each, and no generic figures', (t) => {
  const all = figs(overcommitCells());
  const heads = all.filter((f) => !/-(relative|absolute)$/.test(f.id)).map((f) => f.id);
  t.deepEqual(heads, ['fig9', 'fig11-limits', 'fig11-platform']);
  t.true(all.every((f) => f.kind === 'group'), `generic figures leaked: ${all.filter((f) => f.kind !== 'group').map((f) => f.id).join(', ')}`);
  t.true(all.some((f) => f.id === 'fig9-kernel-compile-wall_s-relative'));
  t.true(all.some((f) => f.id === 'fig11-limits-ycsb-redis-read-latency-avg-absolute'));
});

test('Figure 9: each factor against x1 of the same platform, tenants pooled, ratio and CI as summary computes them', (t) => {
  const cells = overcommitCells();
  const f9 = fig(figs(cells), 'fig9');
  t.regex(f9.title, /relative to ×1, 2 tenants on the same platform/);
  t.regex(f9.title, /Figure 9/);
  t.deepEqual(f9.platforms, ['lxc', 'kvm', 'lightvm']);
  t.deepEqual(f9.categories, [
    'kernel-compile (wall_s): ×1, 2 tenants',
    'kernel-compile (wall_s): ×1.5, 3 tenants',
    'kernel-compile (wall_s): ×2, 4 tenants',
    'specjbb-like (bops): ×1, 2 tenants',
    'specjbb-like (bops): ×1.5, 3 tenants',
    'specjbb-like (bops): ×2, 4 tenants',
  ]);
  for (const platform of ['lxc', 'kvm']) {
    for (const [workload, metric] of [['kernel-compile', 'wall_s'], ['specjbb-like', 'bops']] as const) {
      const ref = find(cells, { platform, workload, group: 'fig9', overcommit: 1 });
      const x15 = find(cells, { platform, workload, group: 'fig9', overcommit: 1.5 });
      const p = pt(f9, `${workload} (${metric}): ×1.5, 3 tenants`, platform);
      const e = expectedRelative(x15, ref, metric);
      near(t, p.value, e.value, `${platform} ${workload} value`);
      near(t, p.low, e.low, `${platform} ${workload} low`);
      near(t, p.high, e.high, `${platform} ${workload} high`);
      t.is(p.n, 9, 'three tenants times three repetitions');
      t.true(Math.abs(p.value - 1 / 1.5) < 0.05, `1.5x overcommit is about 1/1.5 the performance: ${p.value}`);
      const r = pt(f9, `${workload} (${metric}): ×1, 2 tenants`, platform);
      t.is(r.status, 'reference');
      t.is(r.value, 1);
      t.is(r.label, 'ref.');
    }
  }
  t.regex(f9.subtitle, /kvm, lightvm under TCG emulation/);
  t.regex(f9.subtitle, /over its tenants and repetitions/);
});

test('Figure 9: a factor that never finished is DNF, a tenant killed by the OOM killer is counted', (t) => {
  const f9 = fig(figs(overcommitCells()), 'fig9');
  const dnf = pt(f9, 'kernel-compile (wall_s): ×2, 4 tenants', 'lightvm');
  t.is(dnf.status, 'dnf');
  t.is(dnf.label, 'DNF');
  t.true(Number.isNaN(dnf.value), 'DNF is no bar, not a zero bar');
  t.is(dnf.dnf, 12);
  const oom = pt(f9, 'specjbb-like (bops): ×2, 4 tenants', 'kvm');
  t.is(oom.status, 'partial error');
  t.is(oom.label, '1/12 error');
  t.is(oom.n, 11);
  t.true(Number.isFinite(oom.value));
});

test('Figure 11: soft against hard at 1.5x for YCSB read and update latency and specjbb-like; the hard cell may be Figure 9\u2019s', (t) => {
  const cells = overcommitCells();
  const all = figs(cells);
  const f11 = fig(all, 'fig11-limits');
  t.deepEqual(f11.platforms, ['lxc']);
  t.deepEqual(f11.categories, [
    'specjbb-like (bops): hard limit',
    'specjbb-like (bops): soft limit',
    'ycsb-redis (read-latency-avg): hard limit',
    'ycsb-redis (read-latency-avg): soft limit',
    'ycsb-redis (update-latency-avg): hard limit',
    'ycsb-redis (update-latency-avg): soft limit',
  ]);
  t.regex(f11.title, /relative to a hard memory limit on the same platform/);
  t.regex(f11.subtitle, /×1\.5/);
  const soft = find(cells, { group: 'fig11-limits', workload: 'ycsb-redis', memoryLimit: 'soft' });
  const hard = find(cells, { group: 'fig11-limits', workload: 'ycsb-redis', memoryLimit: undefined });
  const read = pt(f11, 'ycsb-redis (read-latency-avg): soft limit', 'lxc');
  near(t, read.value, expectedRelative(soft, hard, 'read-latency-avg').value, 'read latency relative performance');
  t.true(read.value > 1.25 && read.value < 1.4, `25% lower latency is ~1.33x the performance: ${read.value}`);
  const jbbHard = pt(f11, 'specjbb-like (bops): hard limit', 'lxc');
  t.is(jbbHard.status, 'reference', 'fig9\u2019s x1.5 cell is drawn as the reference here, not as its ratio to x1');
  t.is(jbbHard.value, 1);

  const plat = fig(all, 'fig11-platform');
  t.deepEqual(plat.categories, ['specjbb-like (bops)']);
  t.deepEqual(plat.platforms, ['lxc', 'kvm']);
  t.regex(plat.title, /relative to kvm with a hard memory limit/);
  t.regex(plat.subtitle, /lxc: soft limit, kvm: hard limit/);
  t.regex(plat.subtitle, /ratio compares native with tcg/);
  const lxc = pt(plat, 'specjbb-like (bops)', 'lxc');
  const e = expectedRelative(find(cells, { group: 'fig11-platform' }), find(cells, { group: 'fig9', platform: 'kvm', workload: 'specjbb-like', overcommit: 2 }), 'bops');
  near(t, lxc.value, e.value, 'lxc soft against kvm hard');
  const kvm = pt(plat, 'specjbb-like (bops)', 'kvm');
  t.is(kvm.status, 'partial error');
  t.is(kvm.value, 1);
  t.is(kvm.label, 'ref., 1/12 error', 'the reference\u2019s OOM-killed tenant is said too');
});

test('Figure 10: shares and quota against cpusets of the same busy mode, on both platforms', (t) => {
  const cells = allocationCells();
  const all = figs(cells);
  t.deepEqual(all.filter((f) => !/-(relative|absolute)$/.test(f.id)).map((f) => f.id), ['fig10']);
  const f10 = fig(all, 'fig10');
  t.deepEqual(f10.platforms, ['baremetal', 'lxc']);
  t.deepEqual(f10.categories.slice(0, 6), [
    'specjbb-like (bops): cpuset, all busy',
    'specjbb-like (bops): CPU shares, all busy',
    'specjbb-like (bops): CPU quota, all busy',
    'specjbb-like (bops): cpuset, one busy',
    'specjbb-like (bops): CPU shares, one busy',
    'specjbb-like (bops): CPU quota, one busy',
  ]);
  t.regex(f10.title, /relative to cpuset on the same platform/);
  t.regex(f10.subtitle, /^×1, 2 tenants, hard limit, 1 host CPU per tenant; all busy: every tenant runs the workload, one busy: only the measured tenant does/);
  for (const platform of ['baremetal', 'lxc']) {
    for (const busy of ['all', 'one'] as const) {
      const b = busy === 'one' ? 'one' : undefined;
      const ref = find(cells, { platform, workload: 'specjbb-like', cpuPolicy: 'cpuset', busy: b });
      const shares = find(cells, { platform, workload: 'specjbb-like', cpuPolicy: 'shares', busy: b });
      const p = pt(f10, `specjbb-like (bops): CPU shares, ${busy} busy`, platform);
      const e = expectedRelative(shares, ref, 'bops');
      near(t, p.value, e.value, `${platform} ${busy} value`);
      near(t, p.high, e.high, `${platform} ${busy} high`);
      t.true(Math.abs(p.value - (busy === 'one' ? 1.6 : 0.8)) < 0.05, `${platform} ${busy}: ${p.value}`);
      t.is(p.n, busy === 'one' ? 3 : 6, 'only the measured tenant reports when one is busy');
    }
  }
  const k = fig(all, 'fig10-kernel-compile-wall_s-relative');
  t.deepEqual(k.categories, ['cpuset, all busy', 'CPU shares, all busy', 'CPU quota, all busy', 'cpuset, one busy', 'CPU shares, one busy', 'CPU quota, one busy']);
  t.true(Math.abs(pt(k, 'CPU quota, all busy', 'lxc').value - 0.9) < 0.05);
});

test('a reference that differs from the cell in more than the declared axis is said, and the title does not claim one reference', (t) => {
  const cells = allocationCells();
  // wrong: lxc shares (one busy) compared against cpuset with all busy
  const wrong = find(cells, { platform: 'lxc', workload: 'specjbb-like', cpuPolicy: 'shares', busy: 'one' });
  wrong.reference = idOf(find(cells, { platform: 'lxc', workload: 'specjbb-like', cpuPolicy: 'cpuset', busy: undefined }));
  const f10 = fig(figs(cells), 'fig10');
  t.regex(f10.title, /relative to each cell\u2019s reference/);
  t.regex(f10.subtitle, /caveat: lxc\/specjbb-like\/none:none\/shares\/hard\/x1\/t2\/busy-one\/c1 differ/);
});

test('Figure 12: lxcvm against kvm at 1.5x for kernel-compile and YCSB, both under TCG', (t) => {
  const cells = nestedCells();
  const all = figs(cells);
  const f12 = fig(all, 'fig12');
  t.deepEqual(f12.platforms, ['kvm', 'lxcvm']);
  t.deepEqual(f12.categories, ['kernel-compile (wall_s)', 'ycsb-redis (read-latency-avg)', 'ycsb-redis (update-latency-avg)']);
  t.regex(f12.title, /relative to kvm with a hard memory limit \(the study\u2019s Figure 12\)/);
  t.regex(f12.subtitle, /kvm, lxcvm under TCG emulation/);
  t.regex(f12.subtitle, /^×1\.5, 3 tenants, kvm: hard limit, lxcvm: soft limit, cpuset;/);
  t.notRegex(f12.subtitle, /different acceleration/);
  const kc = pt(f12, 'kernel-compile (wall_s)', 'lxcvm');
  near(t, kc.value, expectedRelative(find(cells, { platform: 'lxcvm', workload: 'kernel-compile' }), find(cells, { platform: 'kvm', workload: 'kernel-compile' }), 'wall_s').value, 'lxcvm kernel-compile');
  t.true(Math.abs(kc.value - 1.25) < 0.05);
  t.is(pt(f12, 'kernel-compile (wall_s)', 'kvm').status, 'reference');
  t.true(all.some((f) => f.id === 'fig12-ycsb-redis-throughput-relative'), 'every metric has its own figure');
});

test('pooling: a cell\u2019s value is over every tenant, not one', (t) => {
  const cells = nestedCells();
  const f = fig(figs(cells), 'fig12-kernel-compile-wall_s-absolute');
  const lxcvm = find(cells, { platform: 'lxcvm', workload: 'kernel-compile' });
  const p = pt(f, 'kernel-compile (wall_s)', 'lxcvm');
  const all = pooled(lxcvm, 'wall_s');
  near(t, p.value, all.reduce((a, b) => a + b, 0) / all.length, 'mean over tenants and reps');
  t.is(p.n, 9);
  const tenant0 = lxcvm.outcomes.wall_s![0]!.map(Number);
  t.true(Math.abs(p.value - tenant0.reduce((a, b) => a + b, 0) / 3) > 1, 'tenants differ, so tenant 0 alone would give another mean');
});

test('the reference axis comes from the manifest\u2019s cells; samples give group and tenants', (t) => {
  const cells = nestedCells();
  const info = cellInfo(cells.flatMap(samplesOf), cells.map(cellOfHand));
  const lxcvm = info.get(idOf(find(cells, { platform: 'lxcvm', workload: 'ycsb-redis' })))!;
  t.deepEqual(lxcvm, { group: 'fig12', tenants: 3, referenceAxis: 'platform' });
  const fromSamples = cellInfo(cells.flatMap(samplesOf));
  t.is(fromSamples.get(idOf(cells[0]!))?.referenceAxis, undefined);
  t.is(fromSamples.get(idOf(cells[0]!))?.group, 'fig12');
  // without the manifest the figures are the same (the reference is read from the samples)
  t.deepEqual(figs(cells, false).map((f) => f.id), figs(cells).map((f) => f.id));
});

test('export: one table per group figure, rows are its categories, DNF and ref. in the status column', (t) => {
  const f9 = fig(figs(overcommitCells()), 'fig9');
  const table = wideTable(f9);
  t.deepEqual(table.rows.map((r) => r.category), f9.categories);
  const csv = wideCsv(table).trim().split('\n');
  t.is(csv[0], '"workload (metric): overcommit, tenants",lxc rel_perf [x],lxc ci95_low [x],lxc ci95_high [x],lxc n,lxc status,kvm rel_perf [x],kvm ci95_low [x],kvm ci95_high [x],kvm n,kvm status,lightvm rel_perf [x],lightvm ci95_low [x],lightvm ci95_high [x],lightvm n,lightvm status');
  t.is(csv.length, 7);
  t.is(csv[1], '"kernel-compile (wall_s): ×1, 2 tenants",1.00,,,6,ref.,1.00,,,6,ref.,1.00,,,6,ref.');
  t.regex(csv[3]!, /^"kernel-compile \(wall_s\): ×2, 4 tenants",0\.\d\d,0\.\d\d,0\.\d\d,12,,0\.\d\d,0\.\d\d,0\.\d\d,12,,,,,0,DNF$/);
  t.regex(csv[6]!, /^"specjbb-like \(bops\): ×2, 4 tenants",0\.\d\d,0\.\d\d,0\.\d\d,12,,0\.\d\d,0\.\d\d,0\.\d\d,11,1\/12 error,0\.\d\d,/);
  const f10 = wideTable(fig(figs(allocationCells()), 'fig10'));
  t.is(f10.rows.length, 12);
  t.deepEqual(f10.platforms, ['baremetal', 'lxc']);
  t.regex(wideCsv(f10).split('\n')[2]!, /^"specjbb-like \(bops\): CPU shares, all busy",0\.8\d?,/);
});

test('the group figure renders its DNF as a labelled cross on the axis', async (t) => {
  const f9 = fig(figs(overcommitCells()), 'fig9');
  const spec = vegaLiteSpec(f9) as unknown as { layer: { mark: { type: string; shape?: string } }[] };
  t.deepEqual(spec.layer.map((l) => l.mark.type), ['bar', 'rule', 'tick', 'text', 'point', 'rule']);
  const svg = await renderSvg(f9);
  t.regex(svg, />DNF</);
  t.regex(svg, />ref\.</);
  t.regex(svg, /Figure 9/);
});

test('runs without groups keep exactly their figures', (t) => {
  const lxcRef = cellOf({ platform: 'lxc', workload: 'kernel-compile', metrics: [] }).id;
  const run = syntheticRun({
    seed: 3,
    reps: 4,
    cells: [
      { platform: 'lxc', workload: 'kernel-compile', metrics: [{ metric: 'wall_s', unit: 's', better: 'lower', mean: 100, cv: 0.02 }] },
      { platform: 'lxc', workload: 'kernel-compile', neighbourKind: 'competing', neighbour: 'kernel-compile', reference: lxcRef, metrics: [{ metric: 'wall_s', unit: 's', better: 'lower', mean: 180, cv: 0.02 }] },
    ],
  });
  t.deepEqual(figuresOfSamples(run.samples, run.manifest.cells), figureData(summarize(run.samples)));
});

test('figuresOfRun reads a result directory\u2019s manifest cells and draws the group figures', async (t) => {
  const cells = nestedCells();
  const base = syntheticRun({ suite: 'nested', seed: 1, reps: 1, cells: [] });
  const samples = cells.flatMap(samplesOf);
  const manifest = { ...base.manifest, platforms: ['kvm', 'lxcvm'], cells: cells.map(cellOfHand), plannedRuns: 0 };
  const dir = writeRun(join(tempDir('virtbench-group-figs-'), 'run'), { manifest, samples });
  const { figs: got } = await figuresOfRun(dir);
  t.is(got[0]?.id, 'fig12');
  t.regex(got[0]!.subtitle, /under TCG emulation/);
  t.true((await readdir(dir)).includes('samples.jsonl'));
  t.regex(await readFile(join(dir, 'samples.jsonl'), 'utf8'), /"group":"fig12"/);
});

test('a cell that is the reference inside its figure is drawn at 1 even when it has a reference of its own', (t) => {
  const cells = overcommitCells();
  // the hard YCSB cell is itself compared against an ungrouped x1 cell; in Figure 11 it is the reference
  const x1: HandCell = { suite: 'overcommit', platform: 'lxc', workload: 'ycsb-redis', group: '', overcommit: 1, tenants: 2, outcomes: outcomesFor('ycsb-redis', (m) => MEANS[m]! / 2, 2, 4) };
  const hard = find(cells, { group: 'fig11-limits', workload: 'ycsb-redis', memoryLimit: undefined });
  hard.reference = idOf(x1);
  hard.referenceAxis = 'overcommit';
  const samples = [...cells, x1].flatMap(samplesOf).map((s) => (s.group === '' ? { ...s, group: undefined } : s));
  const all = figuresOfSamples(samples, cells.map(cellOfHand));
  const f11 = fig(all, 'fig11-limits');
  const p = pt(f11, 'ycsb-redis (read-latency-avg): hard limit', 'lxc');
  t.is(p.status, 'reference');
  t.is(p.value, 1);
  t.regex(f11.title, /relative to a hard memory limit on the same platform/);
  t.true(all.every((f) => f.kind === 'group'), 'the ungrouped x1 cell only serves as a reference: no generic figure for it');
});

test('no two cells share a bar: a setting that varies within a platform is on the axis (here CPUs per tenant)', (t) => {
  const cells = allocationCells();
  // the same lxc cells again with 2 CPUs per tenant (a 4-CPU host merged in): only cpusPerTenant differs
  const wider = cells.filter((c) => c.platform === 'lxc').map((c) => ({ ...c, cpusPerTenant: 2 }));
  for (const c of wider) if (c.reference) c.reference = c.reference.replace(/\/c1$/, '/c2');
  for (const [name, set] of [['overcommit', overcommitCells()], ['allocation', cells], ['nested', nestedCells()], ['allocation on two hosts', [...cells, ...wider]]] as const) {
    for (const f of figs(set as HandCell[])) {
      const keys = f.points.map((p) => `${p.category}\u0000${p.platform}`);
      t.is(new Set(keys).size, keys.length, `${name}: ${f.id} draws two cells as one bar`);
    }
  }
  const f10 = fig(figs([...cells, ...wider]), 'fig10');
  t.true(f10.categories.includes('specjbb-like (bops): 2 host CPUs per tenant, CPU shares, one busy'), f10.categories.join(' | '));
  t.notRegex(f10.subtitle, /host CPUs? per tenant/);
});
