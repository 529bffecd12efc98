// The disk adversary (the study's bonnie++): bonnie++ over and over in its own guest, sequential
// writes, rewrites and reads of a file twice the RAM it is told about, then small-file creation
// and deletion. Bounded from outside: its file size (disk), the guest's memory and pids limits,
// a deadline in the loop itself (each pass under `timeout`), stop() / the runner's deadline kill
// through the cgroup, and a watchdog that outlives the harness (workloads/adversary-bounds.ts).
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, Neighbour, ProfileName, RunContext, RunningNeighbour } from '../core/types.ts';
import { adversaryWatchdog, ownDeadlineS } from './adversary-bounds.ts';

/** RAM bonnie++ is told about (-r), MiB; it writes twice that per pass. */
export const BONNIE_RAM_MIB: Record<ProfileName, number> = { smoke: 256, quick: 1024, paper: 4096 };

export function bonnieScript(o: { dir: string; ramMiB: number; deadlineS: number }): string {
  return [
    shellLine`mkdir -p ${o.dir} && cd ${o.dir} || exit 1`,
    `end=$((SECONDS + ${Math.ceil(o.deadlineS)})); n=0`,
    `while [ $SECONDS -lt $end ]; do`,
    // -s file MiB, -r RAM MiB, -n small files x1024, -x 1 pass, -q CSV on stdout, -u root is required as root
    // a pass never runs past the deadline either
    `  left=$((end - SECONDS)); [ $left -gt 0 ] || break`,
    shellLine`  timeout -s KILL $left bonnie++ -d ${o.dir} -s ${2 * o.ramMiB} -r ${o.ramMiB} -n 8 -x 1 -q -u root > last.csv 2> last.err || sleep 1`,
    `  n=$((n + 1)); echo $n > passes`,
    `done`,
  ].join('\n');
}

const bonnie: Neighbour = {
  name: 'bonnie',
  resource: 'disk',
  kind: 'adversarial',
  description: 'bonnie++ in a loop: sequential write/rewrite/read of 2x its RAM figure, small-file create/delete',
  guestPackages: ['bonnie++'],
  hostPackages: ['bonnie++'],
  async setup(guest: Guest, ctx: RunContext) {
    await guest.sh('command -v bonnie++ >/dev/null || { echo "bonnie++ is not installed in the guest" >&2; exit 2; }', { signal: ctx.signal, timeoutMs: 30_000 });
  },
  async start(guest: Guest, ctx: RunContext): Promise<RunningNeighbour> {
    const dir = `${guest.workdir}/bonnie`;
    const watchdog = adversaryWatchdog(guest, ctx);
    const proc = guest.spawn(bonnieScript({ dir, ramMiB: BONNIE_RAM_MIB[ctx.profile.name], deadlineS: ownDeadlineS(ctx) }));
    const t0 = Date.now();
    const $g = guestShell(guest, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1000));
    return {
      async stop() {
        const passes = Number(await $g`cat ${dir}/passes 2>/dev/null || echo 0`.nothrow().text()) || 0;
        try {
          await guest.killAll();
        } finally {
          watchdog.cancel();
        }
        proc.kill('SIGKILL');
        await Promise.race([proc.done, new Promise((r) => setTimeout(r, 5000))]);
        await $g({ timeoutMs: 60_000 })`rm -rf ${dir}`.nothrow();
        return { detail: { completedPasses: passes, fileMiB: 2 * BONNIE_RAM_MIB[ctx.profile.name], seconds: Math.round((Date.now() - t0) / 100) / 10 } };
      },
    };
  },
};

export default bonnie;
