// The CPU adversary (the study's fork bomb): the classic shell bomb in its own guest. Bounded:
// the guest's pids.max caps how many processes it reaches, its memory limit caps what they hold;
// in time, by its own deadline inside the guest, by stop() (or the runner's deadline kill) that
// freezes the guest's cgroup and kills every process in it, and by a watchdog outside the harness
// that does the same if the harness died (workloads/adversary-bounds.ts).
import type { Guest, Neighbour, RunContext, RunningNeighbour } from '../core/types.ts';
import { shellLine } from '../core/shell-quote.ts';
import { adversaryWatchdog, ownDeadlineS } from './adversary-bounds.ts';

/** `b` starts two copies of itself piped together in the background, forever; fork errors are silenced. */
export const BOMB = 'exec 2>/dev/null; b() { b | b & }; b; wait';

/**
 * The bomb with its own deadline. The clock (`sleep`) starts before the bomb, since once pids.max
 * is reached nothing more can fork; the bomb runs in its own process group (job control on), so
 * that at the deadline one builtin `kill` of the group, repeated until none is left, ends it.
 */
export function forkBombScript(deadlineS: number): string {
  return [
    'exec 2>/dev/null',
    `sleep ${Math.ceil(deadlineS)} & clock=$!`,
    'set -m',
    shellLine`bash -c ${BOMB} & bomb=$!`,
    'set +m',
    'wait $clock',
    'i=0; while [ $i -lt 100000 ] && kill -KILL -- -$bomb; do i=$((i + 1)); done',
  ].join('\n');
}

const forkBomb: Neighbour = {
  name: 'fork-bomb',
  resource: 'cpu',
  kind: 'adversarial',
  description: 'a shell fork bomb, bounded by the guest pids limit and killed through its cgroup at stop',
  guestPackages: [],
  async setup(guest: Guest) {
    // refuse to start an unbounded bomb: the bound is the driver's job, but check it is there
    if (!(guest.spec.pidsMax > 0 && Number.isFinite(guest.spec.pidsMax))) throw new Error(`guest ${guest.name} has no pids limit; refusing to start a fork bomb`);
  },
  async start(guest: Guest, ctx: RunContext): Promise<RunningNeighbour> {
    const watchdog = adversaryWatchdog(guest, ctx);
    const proc = guest.spawn(forkBombScript(ownDeadlineS(ctx)));
    const t0 = Date.now();
    let peak = 0;
    // sample the process count while it runs, for the report (the bound itself is pids.max)
    const sampler = setInterval(() => {
      void guest.usage().then((u) => (peak = Math.max(peak, u.pids ?? 0)), () => undefined);
    }, 500);
    await new Promise((r) => setTimeout(r, 1000));
    return {
      async stop() {
        clearInterval(sampler);
        const atStop = (await guest.usage().catch(() => ({ pids: undefined }))).pids;
        try {
          await guest.killAll();
        } finally {
          watchdog.cancel();
        }
        proc.kill('SIGKILL');
        await Promise.race([proc.done, new Promise((r) => setTimeout(r, 5000))]);
        // killed processes count against pids until their reaper collects them (the host's init on bare metal)
        let after: number | undefined;
        for (const until = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 200))) {
          after = (await guest.usage().catch(() => ({ pids: undefined }))).pids;
          if (after === undefined || after <= 2 || Date.now() > until) break;
        }
        return {
          detail: {
            pidsMax: guest.spec.pidsMax,
            peakPids: Math.max(peak, atStop ?? 0),
            pidsAfterKill: after ?? 'unknown',
            seconds: Math.round((Date.now() - t0) / 100) / 10,
          },
        };
      },
    };
  },
};

export default forkBomb;
