// Boot storm (issue 11; YOLO's simultaneous boots): N guests of one platform provisioned at once.
// Each guest's seconds from the common start to answering a command is a sample with its tenant
// index; all_ready_s is the time until the last one answered. A guest not ready within 90% of the
// run timeout is a DNF sample with its cause (the run goes on; the runner destroys it with its
// siblings, also when it is still being provisioned).
import { errorMessage } from '../core/errors.ts';
import type { Experiment, ExperimentMetric, ExperimentPlanContext, ProfileName } from '../core/types.ts';
import { launchUntilReady } from './ready.ts';

const GiB = 1024 ** 3;
export const STORM_SIZES: Record<ProfileName, number[]> = { smoke: [1, 2], quick: [1, 2, 4, 8], paper: [1, 2, 4, 8, 16] };

/** The profile's storm sizes that fit: N guests of the run's memory within 3/4 of the host's. */
export function stormParams(p: ExperimentPlanContext): { params: string[]; note?: string } {
  const most = Math.floor((0.75 * p.hostMemoryBytes) / p.memoryBytes);
  const sizes = STORM_SIZES[p.profile];
  const fit = sizes.filter((n) => n <= most);
  const cut = sizes.filter((n) => n > most);
  const note = cut.length ? `storm: N = ${cut.join(', ')} left out: ${cut[0]} guests of ${(p.memoryBytes / GiB).toFixed(2)} GiB exceed 3/4 of this host's ${(p.hostMemoryBytes / GiB).toFixed(1)} GiB memory` : undefined;
  return { params: fit.map((n) => `n${n}`), ...(note ? { note } : {}) };
}

function race<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const storm: Experiment = {
  name: 'storm',
  resource: 'cpu',
  description: 'N guests launched at once: seconds until each answers a command, and until the last one does',
  metrics: [
    { metric: 'ready_s', unit: 's', better: 'lower' },
    { metric: 'all_ready_s', unit: 's', better: 'lower' },
  ],
  guestPackages: [],
  reference: 'n1',
  params: stormParams,
  estimateS: (param) => 2 + Number(param.slice(1)),
  async run(ctx) {
    const n = Number(ctx.param.slice(1));
    const limitMs = ctx.timeoutS * 900;
    const t0 = performance.now();
    const each = await Promise.all(
      Array.from({ length: n }, async (_, tenant): Promise<ExperimentMetric> => {
        try {
          const { readyS } = await race(launchUntilReady(ctx, tenant, t0), limitMs, `not ready within ${+(limitMs / 1000).toPrecision(3)} s`);
          return { metric: 'ready_s', tenant, value: readyS };
        } catch (err) {
          return { metric: 'ready_s', tenant, value: null, status: 'dnf', message: `guest ${tenant} of ${n} never ready: ${errorMessage(err)}` };
        }
      }),
    );
    const missing = each.filter((m) => m.status !== undefined).length;
    const all: ExperimentMetric = missing
      ? { metric: 'all_ready_s', value: null, status: 'dnf', message: `${missing} of ${n} guests never ready` }
      : { metric: 'all_ready_s', value: Math.max(...each.map((m) => m.value!)) };
    return { metrics: [...each, all] };
  },
};

export default storm;
