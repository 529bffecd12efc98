// Launch latency (issue 11; the study's Section 7.2, YOLO's cold and warm host page cache): seconds
// from the provision call to the guest answering a command (ready_s), and to a service inside it,
// Redis, answering its first PING (service_s). 'cold': the host's page cache is dropped first, so
// images, kernels and binaries come from disk; 'warm': one untimed launch just before puts them in
// the cache. Redis is Debian's redis-server, already in the guest image for ycsb-redis.
import { writeFile } from 'node:fs/promises';
import { $ } from 'zx';
import type { Experiment } from '../core/types.ts';
import { startRedis } from '../workloads/ycsb-redis.ts';
import { launchUntilReady, since } from './ready.ts';

/** Readiness of a service is polled this often: container launches take a tenth of a second. */
export const POLL_MS = 5;

/** Write dirty pages out, then drop the host's page cache, dentries and inodes (root). */
export async function dropHostCaches(signal: AbortSignal): Promise<void> {
  await $({ signal, quiet: true })`sync`;
  await writeFile('/proc/sys/vm/drop_caches', '3');
}

const launch: Experiment = {
  name: 'launch',
  resource: 'disk',
  description: 'one guest launched: seconds to ready (answers a command) and to Redis answering PING, host page cache cold and warm',
  metrics: [
    { metric: 'ready_s', unit: 's', better: 'lower' },
    { metric: 'service_s', unit: 's', better: 'lower' },
  ],
  guestPackages: ['redis-server'],
  reference: 'warm',
  params: () => ({ params: ['cold', 'warm'] }),
  // a container launch is under a second natively, the service about as much again; warm launches twice
  estimateS: (param) => (param === 'warm' ? 6 : 4),
  async run(ctx) {
    if (ctx.param === 'cold') await dropHostCaches(ctx.signal);
    else {
      const warm = await launchUntilReady(ctx, 0, performance.now());
      await startRedis(warm.guest, ctx, 'launch');
      await ctx.destroy(warm.guest);
    }
    const t0 = performance.now();
    const { guest, readyS } = await launchUntilReady(ctx, 0, t0);
    await startRedis(guest, ctx, 'launch', POLL_MS);
    const serviceS = since(t0);
    return {
      metrics: [
        { metric: 'ready_s', value: readyS },
        { metric: 'service_s', value: serviceS },
      ],
    };
  },
};

export default launch;
