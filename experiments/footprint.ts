// Footprint (issue 11; the study's Tables 2 and 4): what one new, idle guest costs the host. Disk:
// the bytes it adds beyond what guests share (lxc's overlay upper directory, docker's writable
// layer, a VM's qcow2 overlay, bare metal's own directory: the Table 4 increment). Memory: what its
// cgroup holds once it has settled idle (a container's processes and page cache; for a VM the
// whole QEMU process with the guest RAM it touched). lxcvm is left out: its containers share one
// VM, whose cost per container is not apportioned yet.
import type { Experiment, ExperimentMetric, ProfileName } from '../core/types.ts';
import { errorMessage } from '../core/errors.ts';
import { launchUntilReady } from './ready.ts';

/** Seconds a guest is left idle before it is measured (boot-time work dies down). */
const SETTLE_S: Record<ProfileName, number> = { smoke: 2, quick: 10, paper: 30 };

const footprint: Experiment = {
  name: 'footprint',
  resource: 'memory',
  description: 'one new idle guest: disk bytes it adds beyond the shared image, and host memory its cgroup holds',
  metrics: [
    { metric: 'disk_bytes', unit: 'B', better: 'lower' },
    { metric: 'memory_bytes', unit: 'B', better: 'lower' },
  ],
  guestPackages: [],
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm'],
  params: () => ({ params: ['idle'] }),
  estimateS: (_param, profile) => 3 + SETTLE_S[profile],
  async run(ctx) {
    const { guest } = await launchUntilReady(ctx, 0, performance.now());
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SETTLE_S[ctx.profile.name] * 1000);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    const measured = async (metric: string, read: () => Promise<number | undefined>): Promise<ExperimentMetric> => {
      try {
        const value = await read();
        return value === undefined ? { metric, value: null, status: 'error', message: `${ctx.platform} guests do not report ${metric}` } : { metric, value };
      } catch (err) {
        return { metric, value: null, status: 'error', message: errorMessage(err) };
      }
    };
    return {
      metrics: [await measured('disk_bytes', async () => guest.diskBytes?.()), await measured('memory_bytes', async () => (await guest.usage()).memoryBytes)],
    };
  },
};

export default footprint;
