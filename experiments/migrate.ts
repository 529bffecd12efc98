// Migration (issue 12; the study's Section 5.2 and Table 2): what moving a running guest to another
// host would cost, with a workload running in it that dirties memory at its own rate (params
// `idle`, `ycsb-redis`, `kernel-compile`). Measured on every platform: memory_bytes, the memory
// that would have to move (the guest's cgroup: a container's memory in use; for a VM the QEMU
// process, i.e. the guest RAM it touched), read while the workload runs. Where the platform can
// migrate here (Driver.capabilities: QEMU to a second QEMU over a local socket; CRIU for
// containers), a real live migration on this host while the workload runs: total_s, downtime_ms,
// sent_bytes (what the tool reports it sent) and slowdown, the workload's throughput lost during
// the migration against the seconds before it (1 - rate during / rate before: ycsb-redis's
// requests per second from a closed loop on the host; kernel-compile's object files per second in
// its build directory; none for idle). Containers where checkpoint works: checkpoint_bytes, the
// size of a checkpoint taken with the guest left running (CRIU's image). Where a capability is
// missing, its metrics are absent (the note says why) and the cell still records memory_bytes.
// kernel-compile is left out at smoke: its smallest build takes ~110 s under TCG.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.ts';
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Experiment, ExperimentContext, ExperimentMetric, Guest, GuestProcess, ProfileName, Share } from '../core/types.ts';
import kernelCompile, { BUILD_PLANS } from '../workloads/kernel-compile.ts';
import { addressOf, portFor } from '../workloads/service-util.ts';
import { untilAnswered } from './apps/app.ts';
import { redisApp } from './apps/redis.ts';
import { ClosedLoop, LOOP_CONNECTIONS, rateBetween, slowdown } from './closed-loop.ts';
import { since } from './ready.ts';

export const MIGRATION_WORKLOADS = ['idle', 'ycsb-redis', 'kernel-compile'] as const;
/** Seconds the workload runs before anything is read or moved (its rate before the migration). */
const BEFORE_S: Record<ProfileName, number> = { smoke: 3, quick: 10, paper: 20 };

export function migrationParams(profile: ProfileName): { params: string[]; note?: string } {
  if (profile === 'smoke') return { params: ['idle', 'ycsb-redis'], note: 'migrate: kernel-compile is left out at smoke (its smallest build takes ~110 s under TCG, beyond the CI budget); quick and paper have it' };
  return { params: [...MIGRATION_WORKLOADS] };
}

/** A workload running in the guest: moments of its own clock, its progress rate between two of them, and its end. */
interface Running {
  /** Now on the workload's clock (ms); the compile also reads its progress at that moment. */
  mark(): Promise<number>;
  /** Its throughput between two marks, or why it has none. */
  rate(fromMs: number, toMs: number): number | string;
  unit: string;
  /**
   * Coarse progress (the compile's object files): it is first awaited (the build under way), and
   * its rate during a migration is read over at least the before-window from the migration's start.
   */
  coarse?: { started(): Promise<void> };
  stop(): Promise<void>;
}

const sleep = (s: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, s * 1000);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

async function startRedisLoad(guest: Guest, ctx: ExperimentContext): Promise<Running> {
  const actx = { signal: ctx.signal, log: ctx.log, cacheDir: ctx.cacheDir, profile: ctx.profile.name };
  const dir = await redisApp.install(guest, await redisApp.data(actx), actx);
  const at = { host: addressOf(guest), port: portFor(guest.name, 'migrate-redis') };
  await untilAnswered(redisApp, at, ctx.timeoutS * 1000, ctx.signal, redisApp.start(guest, dir, at.port));
  const clients = await redisApp.clients(at, LOOP_CONNECTIONS[ctx.profile.name], actx);
  const loop = new ClosedLoop(clients.requests, ctx.timeoutS, ctx.signal);
  return {
    mark: async () => loop.now(),
    rate: (from, to) => rateBetween(loop.endMs, from, to),
    unit: 'YCSB-A requests/s',
    stop: async () => {
      loop.stop();
      await loop.done;
      await clients.close();
    },
  };
}

/** The profile's kernel build in the background; its progress is the object files in its build directory. */
async function startCompile(guest: Guest, share: Share, ctx: ExperimentContext): Promise<Running> {
  const plan = BUILD_PLANS[ctx.profile.name];
  const src = readdirSync(share.host).find((d) => d.startsWith('linux-source-'));
  if (!src) throw new Error(`no linux-source tree in ${share.host}`);
  const build = `${guest.workdir}/migrate-build`;
  const $g = guestShell(guest, { signal: ctx.signal, timeoutMs: 600_000 });
  await $g`rm -rf ${build} && cp -a ${join(share.guest, `template-${plan.config}`)} ${build}`;
  const objects = async () => Number(await $g({ timeoutMs: 60_000 })`find ${build} -name '*.o' | wc -l`.text());
  // the template already holds the host tools' objects: progress is what the build adds to them
  const templateObjects = await objects();
  const proc: GuestProcess = guest.spawn(shellLine`exec make -s -C ${join(share.guest, src)} O=${build} -j${guest.spec.vcpus} ${plan.targets} > ${build}.log 2>&1`, { signal: ctx.signal });
  let ended = false;
  void proc.done.then(() => (ended = true));
  const t0 = performance.now();
  // progress is read at the moments marked: object files in the build directory then
  const counts = new Map<number, number>();
  return {
    mark: async () => {
      const c = await objects();
      const ms = performance.now() - t0;
      counts.set(ms, c);
      return ms;
    },
    rate: (from, to) => (ended ? 'the build ended before the migration did' : (((counts.get(to) ?? NaN) - (counts.get(from) ?? NaN)) * 1000) / (to - from)),
    unit: 'object files/s',
    coarse: {
      // configuration and host tools come first: under TCG the first object files take tens of seconds
      started: async () => {
        const deadline = performance.now() + Math.min(ctx.timeoutS, 600) * 1000;
        while (!ctx.signal.aborted && !ended && performance.now() < deadline) {
          if ((await objects()) >= templateObjects + 5) return;
          await sleep(2, ctx.signal);
        }
        if (ended) throw new Error(`the build ended before it compiled anything: ${(await $g({ timeoutMs: 30_000 })`tail -n 3 ${build}.log`.nothrow().text()).trim()}`);
      },
    },
    stop: async () => {
      proc.kill('SIGKILL');
      await Promise.race([proc.done, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

const migrate: Experiment = {
  name: 'migrate',
  resource: 'memory',
  description: 'a guest running a workload (idle, ycsb-redis, kernel-compile): memory that would have to move, checkpoint size (containers), and a real live migration on this host where the platform can (total time, downtime, bytes sent, the workload slowed)',
  metrics: [
    { metric: 'memory_bytes', unit: 'B', better: 'lower' },
    { metric: 'checkpoint_bytes', unit: 'B', better: 'lower', optional: true },
    { metric: 'total_s', unit: 's', better: 'lower', optional: true },
    { metric: 'downtime_ms', unit: 'ms', better: 'lower', optional: true },
    { metric: 'sent_bytes', unit: 'B', better: 'lower', optional: true },
    { metric: 'slowdown', unit: 'fraction', better: 'lower', optional: true },
  ],
  guestPackages: ['redis-server', ...kernelCompile.guestPackages],
  hostPackages: ['redis-server', ...(kernelCompile.hostPackages ?? [])],
  reference: 'idle',
  params: (p) => migrationParams(p.profile),
  // declared so that the runner probes and records the platforms' capabilities; no cell needs one
  needs: () => undefined,
  estimateS: (param, profile) => 6 + BEFORE_S[profile] * 2 + (param === 'kernel-compile' ? 10 : 0),
  async run(ctx) {
    const values: ExperimentMetric[] = [];
    const notes: string[] = [];
    let share: Share | undefined;
    if (ctx.param === 'kernel-compile') share = (await kernelCompile.prepareHost!(ctx))[0];
    // the kernel tree as a disk on kvm: QEMU refuses to migrate a guest with a 9p export
    const guest = await ctx.provision(0, share ? { shares: [{ ...share, asDisk: true }] } : {});
    await guestShell(guest, { signal: ctx.signal, timeoutMs: ctx.timeoutS * 1000 })`true`;
    let work: Running | undefined;
    try {
      if (ctx.param === 'ycsb-redis') work = await startRedisLoad(guest, ctx);
      else if (ctx.param === 'kernel-compile') work = await startCompile(guest, share!, ctx);
      await work?.coarse?.started();
      const w0 = work ? await work.mark() : 0;
      await sleep(BEFORE_S[ctx.profile.name], ctx.signal);
      // a container's memory its processes hold (not page cache they do not map: that stays behind); a VM's QEMU
      const usage = await guest.usage();
      const inUse = guest.accel === 'native' && usage.memoryInUseBytes !== undefined;
      const memory = inUse ? usage.memoryInUseBytes : usage.memoryBytes;
      values.push(memory === undefined ? { metric: 'memory_bytes', value: null, status: 'error', message: `${ctx.platform} guests do not report their memory` } : { metric: 'memory_bytes', value: memory, note: inUse ? `the cgroup's memory in use (rss + mapped files; ${usage.memoryBytes ?? '?'} B with page cache)` : guest.accel === 'native' ? "the cgroup's memory, page cache included" : "the VM's QEMU process (guest RAM it touched)" });
      const caps = await ctx.capabilities();
      if (caps.migrate.ok && guest.migrate) {
        const m0 = work ? await work.mark() : 0;
        const t0 = performance.now();
        let stats: Awaited<ReturnType<NonNullable<Guest['migrate']>>> | undefined;
        try {
          stats = await guest.migrate({ signal: ctx.signal, timeoutS: Math.max(30, ctx.timeoutS / 2) });
        } catch (err) {
          const message = `live migration failed after ${since(t0).toFixed(1)} s: ${errorMessage(err)}`;
          for (const metric of ['total_s', 'downtime_ms', 'sent_bytes']) values.push({ metric, value: null, status: 'error', message });
        }
        if (stats) {
          const moved: ExperimentMetric[] = [{ metric: 'total_s', value: stats.totalS }, { metric: 'downtime_ms', value: stats.downtimeMs }, { metric: 'sent_bytes', value: stats.bytes, ...(stats.memoryBytes !== undefined ? { note: `guest memory at the start: ${stats.memoryBytes} B` } : {}) }];
          if (stats.detail) notes.push(`migration detail: ${JSON.stringify(stats.detail)}`);
          try {
            // the guest must still work where it went, also while its rate is read (under TCG one
            // died of a kernel oops right after a migration, another stopped answering seconds later)
            const m1 = work ? await work.mark() : 0;
            await guest.sh('true', { timeoutMs: 30_000, signal: ctx.signal });
            if (work) {
              const before = work.rate(w0, m0);
              // coarse progress over a migration of a second or two is 0 or 1 object: read it over the before-window's length
              let m2 = m1;
              if (work.coarse && m1 - m0 < m0 - w0) {
                await sleep((m0 - w0 - (m1 - m0)) / 1000, ctx.signal);
                m2 = await work.mark();
                notes.push(`the compile's rate during the migration is read over ${((m2 - m0) / 1000).toFixed(1)} s from its start (the migration took ${((m1 - m0) / 1000).toFixed(1)} s)`);
              }
              const during = work.rate(m0, m2);
              const lost = typeof before === 'number' && typeof during === 'number' ? slowdown(before, during) : undefined;
              notes.push(`workload: ${String(before)} ${work.unit} before the migration, ${String(during)} during it`);
              moved.push(lost === undefined ? { metric: 'slowdown', value: null, status: 'error', message: typeof before === 'string' ? before : typeof during === 'string' ? during : 'the workload made no progress before the migration' } : { metric: 'slowdown', value: lost, note: `1 - ${work.unit} during the migration / before it` });
            }
            values.push(...moved);
          } catch (err) {
            // QEMU's figures stand in the message: a migration whose guest does not survive it is not a result
            const message = `the guest did not answer after its migration (QEMU: ${stats.totalS.toFixed(2)} s, ${stats.downtimeMs} ms downtime, ${stats.bytes} B sent): ${errorMessage(err)}`;
            for (const metric of ['total_s', 'downtime_ms', 'sent_bytes', ...(work ? ['slowdown'] : [])]) values.push({ metric, value: null, status: 'error', message });
          }
        }
      } else notes.push(`no live migration: ${caps.migrate.ok ? 'the guest has no migrate()' : caps.migrate.reason}`);
      if (guest.accel === 'native') {
        if (caps.checkpoint.ok && guest.checkpoint) {
          try {
            const cp = await guest.checkpoint(await ctx.checkpointDir(), { leaveRunning: true, signal: ctx.signal });
            values.push({ metric: 'checkpoint_bytes', value: cp.bytes, note: `${cp.stamp.tool}, guest left running, ${cp.seconds.toFixed(3)} s` });
          } catch (err) {
            values.push({ metric: 'checkpoint_bytes', value: null, status: 'error', message: errorMessage(err) });
          }
        } else notes.push(`no checkpoint: ${caps.checkpoint.ok ? 'the guest has no checkpoint()' : caps.checkpoint.reason}`);
      }
    } finally {
      await work?.stop();
    }
    return { metrics: values, raw: [{ name: 'migrate.txt', text: `${ctx.param} on ${ctx.platform}\n${notes.join('\n')}\n` }] };
  },
};

export default migrate;
