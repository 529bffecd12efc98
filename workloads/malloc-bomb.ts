// The memory adversary (the study's "malloc bomb"): in its own guest, a process allocates and
// touches memory in 16 MiB steps until the guest's memory limit stops it (the kernel's OOM killer
// ends it inside the guest's cgroup), then a new one starts, so the pressure lasts until the
// neighbour is stopped. Bounded from outside: the driver's cgroup memory limit (hard, or the hard
// ceiling of a soft limit), the runner's deadline kill, a watchdog that outlives the harness
// (workloads/adversary-bounds.ts), and pids.max; in time also by its own loop's deadline. As a second line of defence
// each bomb also stops growing at twice the guest's size plus 256 MiB, so a guest whose limit was
// not applied still cannot take the host.
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, Neighbour, RunContext, RunningNeighbour } from '../core/types.ts';
import { adversaryWatchdog, ownDeadlineS } from './adversary-bounds.ts';
import { ensureCommands } from './service-util.ts';

const MiB = 1024 * 1024;
export const CHUNK_BYTES = 16 * MiB;

/** Bytes one bomb may reach at most on its own (the cgroup limit is meant to stop it first). */
export function bombCap(memoryBytes: number): number {
  return 2 * memoryBytes + 256 * MiB;
}

/** The guest-side script: restart the bomb until the deadline; count lives in a file. */
export function bombScript(o: { dir: string; capBytes: number; chunkBytes: number; deadlineS: number }): string {
  const chunks = Math.max(1, Math.floor(o.capBytes / o.chunkBytes));
  // perl (perl-base is in every Debian): "x" x N writes N bytes, so every page is touched
  const perl = `my @a; for (1..${chunks}) { push @a, "x" x ${o.chunkBytes}; } exit 0;`;
  return [
    shellLine`mkdir -p ${o.dir} && cd ${o.dir} || exit 1`,
    `end=$((SECONDS + ${Math.ceil(o.deadlineS)})); lives=0`,
    `while [ $SECONDS -lt $end ]; do`,
    `  lives=$((lives + 1)); echo $lives > lives`,
    shellLine`  perl -e ${perl}`,
    `  echo $? > last-exit`,
    `done`,
  ].join('\n');
}

async function readNumber(guest: Guest, file: string): Promise<number> {
  const n = Number(await guestShell(guest, { timeoutMs: 10_000 })`cat ${file} 2>/dev/null || echo 0`.nothrow().text());
  return Number.isFinite(n) ? n : 0;
}

const mallocBomb: Neighbour = {
  name: 'malloc-bomb',
  resource: 'memory',
  kind: 'adversarial',
  description: 'allocates and touches memory in a loop until the guest memory limit stops it, then starts again',
  guestPackages: [],
  async setup(guest: Guest, ctx: RunContext) {
    await ensureCommands(guest, [{ command: 'perl', pkg: 'perl-base' }], { signal: ctx.signal, log: ctx.log });
  },
  async start(guest: Guest, ctx: RunContext): Promise<RunningNeighbour> {
    const dir = `${guest.workdir}/malloc-bomb`;
    const capBytes = bombCap(guest.spec.memoryBytes);
    const watchdog = adversaryWatchdog(guest, ctx);
    const proc = guest.spawn(bombScript({ dir, capBytes, chunkBytes: CHUNK_BYTES, deadlineS: ownDeadlineS(ctx) }));
    // the measured run starts once the first bomb is growing
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    return {
      async stop() {
        const lives = await readNumber(guest, `${dir}/lives`);
        const usage = await guest.usage().catch(() => ({ memoryBytes: undefined }));
        proc.kill('SIGKILL');
        try {
          await guest.killAll();
        } finally {
          watchdog.cancel();
        }
        await Promise.race([proc.done, new Promise((r) => setTimeout(r, 5000))]);
        return {
          detail: {
            lives,
            capBytes,
            memoryBytesAtStop: usage.memoryBytes ?? 'unknown',
            seconds: Math.round((Date.now() - t0) / 100) / 10,
          },
        };
      },
    };
  },
};

export default mallocBomb;
