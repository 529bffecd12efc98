// The runner's own footprint on the host: where the harness runs while guests are measured, and
// host settings that limit what a number means (recorded as caveats in the manifest).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { execa } from 'execa';
import { cpuLayout } from '../core/matrix.ts';
import { tenantShapes } from '../core/tenancy.ts';
import type { Plan } from './plan.ts';
import type { Registry } from './registry.ts';

/**
 * The harness (this node process, its threads and the helpers it starts: lxc-attach, the monitors)
 * moves to host CPUs that no measured guest is pinned to, where the host has such CPUs; guests'
 * processes leave that mask as they join their cpuset. Without spare CPUs it says so.
 */
export async function moveHarnessOffMeasuredCpus(plan: Plan, reg: Registry, log: (l: string) => void): Promise<{ measured: number[]; harness: number[] | 'all'; note?: string }> {
  const n = cpus().length;
  const measured = new Set<number>();
  for (const c of plan.cells) {
    const shapes = plan.tenancy ? tenantShapes(c, plan.tenancy) : undefined;
    const guests = 1 + (c.neighbour === 'none' ? 0 : 1) + (reg.workloads[c.workload]?.tiers?.length ?? 0);
    for (const g of shapes ? shapes.map((t) => t.cpus) : cpuLayout(c.cpuPolicy, plan.vcpus, n, guests)) for (const cpu of g) measured.add(cpu);
  }
  const spare = Array.from({ length: n }, (_, i) => i).filter((i) => !measured.has(i));
  const list = [...measured].sort((a, b) => a - b);
  if (spare.length === 0) {
    return { measured: list, harness: 'all', note: `the harness shares the measured CPUs: the guests are pinned to all ${n} host CPUs, none is left for it (its own work between runs is idle during a measured run except the 1 s monitor tick)` };
  }
  const r = await execa('taskset', ['-a', '-p', '-c', spare.join(','), String(process.pid)], { reject: false, all: true });
  if (r.exitCode !== 0) return { measured: list, harness: 'all', note: `could not move the harness off the measured CPUs: ${(r.all ?? '').trim().split('\n').at(-1)}` };
  log(`harness moved to host CPU(s) ${spare.join(',')}, off the measured guests' ${list.join(',')}`);
  return { measured: list, harness: spare };
}

export function hostCaveats(): string[] {
  const out: string[] = [];
  try {
    const sched = readFileSync('/sys/block/' + rootDisk() + '/queue/scheduler', 'utf8');
    const active = sched.match(/\[(\S+)\]/)?.[1];
    if (active && active !== 'bfq') out.push(`I/O scheduler of the root disk is ${active}: blkio/io weights are only enforced by bfq`);
  } catch {
    /* no block device info (container host): nothing to say */
  }
  return out;
}

function rootDisk(): string {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const dev = line?.split(' - ')[1]?.split(' ')[1] ?? '';
  return dev.replace('/dev/', '').replace(/p?\d+$/, '');
}
