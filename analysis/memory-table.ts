// memory-per-workload.csv of `npm run export` (the study's Table 2: the memory a tenant really
// holds): per platform and workload, what the monitors saw of the measured guest's cgroup during
// each measured run with no neighbour and one tenant. For a container that is its cgroup's usage;
// for a VM the cgroup holds QEMU, so it is the guest's resident memory. Runs of every such cell of
// a platform and workload are pooled (e.g. several CPU policies of the isolation suite). Runs that
// did not finish, and runs without a monitor summary (--no-monitors), are left out: a row without
// any is absent, a field without data empty, never 0.
import type { Sample } from '../core/types.ts';
import { runKey } from '../core/matrix.ts';
import { distinct, platformSort, PLATFORM_ORDER } from './figure-data.ts';
import { percentile } from './experiment-cells.ts';
import { formatNumber } from './summary.ts';
import type { Table } from './lifecycle-tables.ts';

const MIB = 1024 * 1024;

interface RunMemory {
  platform: string;
  workload: string;
  accel: string;
  ok: boolean;
  max?: number;
  mean?: number;
}

const finite = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** One row per platform and workload of the single-tenant, no-neighbour workload cells; undefined when no run has monitor data. */
export function memoryPerWorkloadTable(samples: readonly Sample[], order: readonly string[] = PLATFORM_ORDER): Table | undefined {
  const runs = new Map<string, RunMemory>();
  for (const s of samples) {
    // experiment cells (param) have no workload; a neighbour or other tenants share the host's memory
    if (s.warmup || s.param !== undefined || s.neighbourKind !== 'none' || (s.tenants ?? 1) !== 1) continue;
    const k = runKey(s.cell, s.rep, s.warmup);
    let r = runs.get(k);
    if (!r) runs.set(k, (r = { platform: s.platform, workload: s.workload, accel: s.accel, ok: true }));
    if (s.status !== 'ok') r.ok = false;
    // every sample of a run carries the same monitor summary
    r.max ??= finite(s.context?.target_mem_bytes_max);
    r.mean ??= finite(s.context?.target_mem_bytes_mean);
  }
  const kept = [...runs.values()].filter((r) => r.ok && r.max !== undefined);
  if (kept.length === 0) return undefined;
  const platforms = platformSort(distinct(kept.map((r) => r.platform)), order);
  const workloads = distinct(kept.map((r) => r.workload)).sort();
  const records: string[][] = [];
  for (const platform of platforms) {
    for (const workload of workloads) {
      const mine = kept.filter((r) => r.platform === platform && r.workload === workload);
      if (mine.length === 0) continue;
      const maxes = mine.map((r) => r.max! / MIB);
      const means = mine.flatMap((r) => (r.mean === undefined ? [] : [r.mean / MIB]));
      records.push([
        platform,
        workload,
        String(mine.length),
        formatNumber(percentile(maxes, 0.5)),
        formatNumber(Math.max(...maxes)),
        means.length > 0 ? formatNumber(means.reduce((a, b) => a + b, 0) / means.length) : '',
        distinct(mine.map((r) => r.accel)).join('+'),
      ]);
    }
  }
  return {
    id: 'memory-per-workload',
    header: ['platform', 'workload', 'n', 'mem_max median [MiB]', 'mem_max max [MiB]', 'mem_mean mean [MiB]', 'accel'],
    records,
  };
}
