// Footprint (issue 11; the study's Tables 2 and 4): what one new, idle guest costs the host. Disk:
// the bytes it adds beyond what guests share (lxc's overlay upper directory, docker's writable
// layer, a VM's qcow2 overlay, bare metal's own directory: the Table 4 increment). Memory: what its
// cgroup holds once it has settled idle (a container's processes and page cache; for a VM the
// whole QEMU process with the guest RAM it touched). lxcvm: the container's own increment inside
// its VM (upper layer on the VM's disk, its cgroup there); the VM they share is kvm's footprint,
// and the samples say so.
import type { Experiment, ExperimentMetric, ProfileName } from '../core/types.ts';
import { errorMessage } from '../core/errors.ts';
import { launchUntilReady } from './ready.ts';

/** Seconds a guest is left idle before it is measured (boot-time work dies down). */
const SETTLE_S: Record<ProfileName, number> = { smoke: 2, quick: 10, paper: 30 };

const NESTED_NOTE = 'the container inside its VM only; the VM the containers share costs what kvm/footprint/idle shows';

const footprint: Experiment = {
  name: 'footprint',
  resource: 'memory',
  description: 'one new idle guest: disk bytes it adds beyond the shared image, and host memory its cgroup holds',
  metrics: [
    { metric: 'disk_bytes', unit: 'B', better: 'lower' },
    { metric: 'memory_bytes', unit: 'B', better: 'lower' },
  ],
  guestPackages: [],
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm', 'lxcvm'],
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
        if (value === undefined) return { metric, value: null, status: 'error', message: `${ctx.platform} guests do not report ${metric}` };
        return ctx.platform === 'lxcvm' ? { metric, value, note: NESTED_NOTE } : { metric, value };
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
