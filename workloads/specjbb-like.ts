// SpecJBB-like (the study's memory workload): a Java business-logic program modelled on
// SPECjbb2005 (workloads/specjbb-like/SpecJbbLike.java), compiled in the guest at setup with
// Debian's OpenJDK. Warehouses ramp from 1 to 2 x vCPUs, one fixed measurement interval per step;
// the score is bops (business operations per second) averaged over the steps vCPUs..2 x vCPUs.
// It is "SpecJBB-like": its score is never a SPECjbb result and must not be reported as one.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, Metric, ProfileName, RunContext, Workload } from '../core/types.ts';
import { ensureCommands } from './service-util.ts';

const SRC_DIR = fileURLToPath(new URL('./specjbb-like/', import.meta.url));
const MiB = 1024 * 1024;

export interface SpecjbbParams {
  /** Unmeasured JIT warm-up with one warehouse before the first step. */
  warmupMs: number;
  rampMs: number;
  measureMs: number;
  /** Smaller data for smoke runs (the item catalogue and customers per district). */
  items: number;
  customers: number;
}

/** SPECjbb2005 ramps up 30 s and measures 240 s per point; smoke keeps the shape in seconds. */
export const SPECJBB_PROFILES: Record<ProfileName, SpecjbbParams> = {
  smoke: { warmupMs: 5000, rampMs: 2000, measureMs: 4000, items: 20_000, customers: 1_000 },
  quick: { warmupMs: 15_000, rampMs: 10_000, measureMs: 30_000, items: 20_000, customers: 3_000 },
  paper: { warmupMs: 30_000, rampMs: 30_000, measureMs: 240_000, items: 20_000, customers: 3_000 },
};

export interface SpecjbbStep {
  warehouses: number;
  ops: number;
  seconds: number;
  bops: number;
  byType: Record<string, number>;
}

export interface SpecjbbResult {
  steps: SpecjbbStep[];
  /** The score line the program printed, if any. */
  score?: number;
}

/** Parse the program's output (pure; tested on captured output). */
export function parseSpecjbbOutput(text: string): SpecjbbResult {
  const steps: SpecjbbStep[] = [];
  let score: number | undefined;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t.startsWith('step ')) {
      const kv = Object.fromEntries(
        t
          .slice(5)
          .split(/\s+/)
          .map((p) => p.split('='))
          .filter((p): p is [string, string] => p.length === 2),
      );
      const num = (k: string) => Number(kv[k]);
      const byType: Record<string, number> = {};
      for (const k of ['neworder', 'payment', 'orderstatus', 'delivery', 'stocklevel']) if (k in kv) byType[k] = num(k);
      const step = { warehouses: num('warehouses'), ops: num('ops'), seconds: num('seconds'), bops: num('bops'), byType };
      if (![step.warehouses, step.ops, step.seconds, step.bops].every(Number.isFinite)) throw new Error(`specjbb-like: unreadable step line: ${t}`);
      steps.push(step);
    } else if (t.startsWith('score ')) {
      const m = t.match(/bops=([\d.]+)/);
      if (m?.[1]) score = Number(m[1]);
    }
  }
  if (steps.length === 0) throw new Error(`specjbb-like printed no step results: ${text.trim().split('\n').slice(-2).join(' | ').slice(0, 300) || 'no output'}`);
  return { steps, score };
}

/** SPECjbb2005's way: the mean throughput of the points from the expected peak N to 2N. */
export function specjbbScore(steps: SpecjbbStep[], expectedPeak: number): number {
  const pts = steps.filter((s) => s.warehouses >= expectedPeak && s.warehouses <= 2 * expectedPeak);
  if (pts.length === 0) throw new Error(`specjbb-like: no step between ${expectedPeak} and ${2 * expectedPeak} warehouses`);
  return pts.reduce((a, s) => a + s.bops, 0) / pts.length;
}

export function specjbbMetrics(r: SpecjbbResult, vcpus: number): Metric[] {
  const expected = 2 * vcpus;
  const missing = Array.from({ length: expected }, (_, i) => i + 1).filter((n) => !r.steps.some((s) => s.warehouses === n));
  if (missing.length) throw new Error(`specjbb-like: no result for ${missing.join(', ')} warehouse(s)`);
  return [
    { metric: 'bops', unit: 'bops', better: 'higher', value: specjbbScore(r.steps, vcpus) },
    { metric: 'bops-1wh', unit: 'bops', better: 'higher', value: r.steps.find((s) => s.warehouses === 1)!.bops },
    { metric: 'bops-peak', unit: 'bops', better: 'higher', value: Math.max(...r.steps.map((s) => s.bops)) },
  ];
}

/** Heap from the guest's memory: 65% of it (the JVM's own memory and the OS need the rest), at least 256 MiB. */
export function heapMiB(memoryBytes: number): number {
  return Math.max(256, Math.floor((memoryBytes * 0.65) / MiB));
}

export function javaCommand(o: { dir: string; heapMiB: number; vcpus: number; params: SpecjbbParams; seed: number }): string {
  const jvm = [`-Xms${o.heapMiB}m`, `-Xmx${o.heapMiB}m`, '-XX:+UseParallelGC', '-XX:+AlwaysPreTouch', `-XX:ActiveProcessorCount=${o.vcpus}`];
  const args = [
    ['--max-warehouses', 2 * o.vcpus],
    ['--expected-peak', o.vcpus],
    ['--warmup-ms', o.params.warmupMs],
    ['--ramp-ms', o.params.rampMs],
    ['--measure-ms', o.params.measureMs],
    ['--items', o.params.items],
    ['--customers', o.params.customers],
    ['--seed', o.seed],
  ].flat();
  return shellLine`cd ${o.dir} && exec java ${jvm} -cp classes SpecJbbLike ${args}`;
}

/** Copy the Java sources into the guest and compile them there (Debian's OpenJDK). */
export async function compileInGuest(guest: Guest, ctx: Pick<RunContext, 'signal' | 'log'>, dir: string): Promise<void> {
  await ensureCommands(
    guest,
    [
      { command: 'javac', pkg: 'openjdk-17-jdk-headless' },
      { command: 'java', pkg: 'openjdk-17-jdk-headless' },
    ],
    { signal: ctx.signal, log: ctx.log },
  );
  const $g = guestShell(guest, { timeoutMs: 30_000, signal: ctx.signal });
  await $g`rm -rf ${dir} && mkdir -p ${dir}/src`;
  for (const f of readdirSync(SRC_DIR).filter((n) => n.endsWith('.java'))) await guest.pushFile(SRC_DIR + f, `${dir}/src/${f}`);
  const r = await $g({ timeoutMs: 180_000 })`cd ${dir} && javac -encoding UTF-8 -d classes src/*.java 2>&1`.nothrow();
  if (r.exitCode !== 0) throw new Error(`specjbb-like: javac failed in guest ${guest.name}: ${r.stdout.trim().split('\n').slice(-3).join(' | ')}`);
}

const dirOf = (g: Guest) => `${g.workdir}/specjbb-like`;

const specjbbLike: Workload = {
  name: 'specjbb-like',
  resource: 'memory',
  description: 'SpecJBB-like Java business workload (modelled on SPECjbb2005; not SPECjbb): warehouses 1..2 x vCPUs, bops',
  estimatedSeconds: { smoke: 30, quick: 200, paper: 1150 },
  metrics: [
    { metric: 'bops', unit: 'bops', better: 'higher' },
    { metric: 'bops-1wh', unit: 'bops', better: 'higher' },
    { metric: 'bops-peak', unit: 'bops', better: 'higher' },
  ],
  guestPackages: ['openjdk-17-jdk-headless'],
  async setup(guest, ctx) {
    await compileInGuest(guest, ctx, dirOf(guest));
  },
  async run(guest, ctx) {
    const params = SPECJBB_PROFILES[ctx.profile.name];
    const heap = heapMiB(guest.spec.memoryBytes);
    const cmd = javaCommand({ dir: dirOf(guest), heapMiB: heap, vcpus: guest.spec.vcpus, params, seed: 42 });
    const r = await guest.sh(cmd, { signal: ctx.signal, check: false });
    if (r.exitCode !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      const oom = /OutOfMemoryError|Killed/.test(r.stderr + r.stdout) || r.exitCode === 137 ? ' (out of memory: heap or guest limit)' : '';
      throw new Error(`specjbb-like exited ${r.exitCode}${oom} in guest ${guest.name}: ${why}`);
    }
    const parsed = parseSpecjbbOutput(r.stdout);
    ctx.log(`specjbb-like ${guest.name} (heap ${heap} MiB): ${parsed.steps.map((s) => `${s.warehouses}wh=${Math.round(s.bops)}`).join(' ')} bops`);
    return { metrics: specjbbMetrics(parsed, guest.spec.vcpus), raw: [{ name: 'specjbb-like.log', text: r.stdout + (r.stderr ? `\n# stderr\n${r.stderr}` : '') }] };
  },
};

export default specjbbLike;
