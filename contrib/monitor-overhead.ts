// What the monitors cost the measured workload, measured: one bare-metal guest builds the smoke
// kernel target (kernel/printk/ under tinyconfig, fork- and exec-heavy) in interleaved rounds,
// each round once with the monitors sampling beside it and once without, in a seeded random
// order; the ratio on/off within each round, with its 95% CI, and the monitors' own CPU time.
// Needs root and the machine to itself (flock /tmp/vb-machine.lock). A few minutes:
//   tsx contrib/monitor-overhead.ts [rounds=12]
import { cleanupAll, installSignalHandlers } from '../core/cleanup.ts';
import { CACHE_DIR } from '../core/host.ts';
import { PROFILES } from '../core/profiles.ts';
import { rng } from '../core/rng.ts';
import type { GuestSpec, RunContext, RunResult } from '../core/types.ts';
import baremetal from '../drivers/baremetal.ts';
import { roundRatio } from '../analysis/rounds.ts';
import { describe } from '../analysis/stats.ts';
import { RunMonitor } from '../monitors/sampler.ts';
import kernelCompile from '../workloads/kernel-compile.ts';

const rounds = Number(process.argv[2] ?? 12);
if (!Number.isInteger(rounds) || rounds < 2 || rounds > 200) {
  process.stderr.write('usage: tsx contrib/monitor-overhead.ts [rounds, 2..200]\n');
  process.exit(2);
}
const abort = new AbortController();
installSignalHandlers(() => abort.abort(), (l) => process.stderr.write(l + '\n'));
const log = (l: string) => process.stderr.write(l + '\n');
const profile = PROFILES.smoke;
const ctx: RunContext = { profile, cacheDir: CACHE_DIR, guestPackages: [], log, signal: abort.signal, timeoutS: profile.timeoutS, tiers: {} };
try {
  const shares = (await kernelCompile.prepareHost?.(ctx)) ?? [];
  const spec: GuestSpec = { name: 'vb-monitor-cost', vcpus: 1, cpus: [0], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: profile.memoryBytes, memoryLimit: 'hard', ioWeight: 500, pidsMax: 1024, network: false, shares };
  const guest = await baremetal.provision(spec, ctx);
  await kernelCompile.setup(guest, ctx);
  await kernelCompile.run(guest, ctx); // warm-up, not counted
  const on = new Map<number, number>();
  const off = new Map<number, number>();
  const costs: number[] = [];
  const next = rng(15);
  for (let r = 1; r <= rounds && !abort.signal.aborted; r++) {
    const order = next() < 0.5 ? ['on', 'off'] : ['off', 'on'];
    for (const mode of order) {
      const monitor = mode === 'on' ? new RunMonitor([{ role: 'target', paths: guest.cgroupPaths!()! }]) : undefined;
      monitor?.start();
      const res = (await kernelCompile.run(guest, ctx)) as RunResult;
      const summary = monitor?.stop();
      if (summary?.monitor_cost_pct !== undefined) costs.push(summary.monitor_cost_pct);
      const wall = res.metrics.find((m) => m.metric === 'wall_s')!.value;
      (mode === 'on' ? on : off).set(r, wall);
      log(`round ${r} ${mode}: wall ${wall} s${summary ? `, monitor cost ${summary.monitor_cost_pct}% of a CPU` : ''}`);
    }
  }
  const rr = roundRatio(on, off);
  const d = (m: Map<number, number>) => describe([...m.values()]);
  const c = describe(costs);
  const pct = (x: number) => `${((x - 1) * 100).toFixed(2)}%`;
  process.stdout.write(
    [
      `monitors on vs off, smoke kernel compile on bare metal, ${rr.pairs} interleaved rounds:`,
      `  wall_s on ${d(on).mean.toFixed(3)} s (sd ${d(on).sd.toFixed(3)}), off ${d(off).mean.toFixed(3)} s (sd ${d(off).sd.toFixed(3)})`,
      `  within-round ratio on/off ${rr.ratio.toFixed(4)} [${rr.low.toFixed(4)}, ${rr.high.toFixed(4)}] 95% CI (${pct(rr.ratio)}, CI ${pct(rr.low)} to ${pct(rr.high)})`,
      `  the monitors' own time: mean ${c.mean.toFixed(3)}% of one CPU (max ${c.max.toFixed(3)}%) while sampling every 1 s`,
    ].join('\n') + '\n',
  );
} finally {
  await cleanupAll(log);
}
