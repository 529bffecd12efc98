// A competing or orthogonal neighbour is an ordinary workload run over and over in its own guest
// (the study's "competing" kernel compile, filebench beside filebench). Bounded: it stops when
// told to, and at the run's deadline on its own; the runner's deadline kill is the outer bound.
import type { Guest, Neighbour, RunContext, RunningNeighbour, Workload } from '../core/types.ts';
import { errorMessage } from '../core/errors.ts';

/** Seconds a loop keeps going past the measured run's timeout if nobody stops it. */
const LOOP_GRACE_S = 60;

export function loopNeighbour(w: Workload): Neighbour {
  return {
    name: w.name,
    resource: w.resource,
    kind: 'competing',
    description: `${w.name} in a loop: ${w.description}`,
    guestPackages: w.guestPackages,
    hostPackages: w.hostPackages,
    prepareHost: w.prepareHost?.bind(w),
    setup: (guest, ctx) => w.setup(guest, ctx),
    async start(guest: Guest, ctx: RunContext): Promise<RunningNeighbour> {
      const stop = new AbortController();
      const signal = AbortSignal.any([ctx.signal, stop.signal]);
      const until = Date.now() + (ctx.timeoutS + LOOP_GRACE_S) * 1000;
      const t0 = Date.now();
      let iterations = 0;
      let lastError: string | undefined;
      const loop = (async () => {
        while (!signal.aborted && Date.now() < until) {
          try {
            await w.run(guest, { ...ctx, signal, timeoutS: Math.max(1, (until - Date.now()) / 1000) });
            iterations++;
          } catch (err) {
            if (signal.aborted) break;
            // a neighbour that cannot do its work is no neighbour: say so in the sample, keep trying slowly
            lastError = errorMessage(err);
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
      })();
      // the measured run starts once the neighbour's first iteration is under way
      await new Promise((r) => setTimeout(r, 1000));
      return {
        async stop() {
          stop.abort();
          await guest.killAll().catch(() => undefined);
          await loop;
          const detail: Record<string, number | string> = { iterations, seconds: Math.round((Date.now() - t0) / 100) / 10 };
          if (lastError) detail.lastError = lastError;
          return { detail };
        },
      };
    },
  };
}
