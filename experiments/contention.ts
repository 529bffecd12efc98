// Boot under I/O contention (issue 11; YOLO's "boot under I/O contention"): one guest launched
// while d neighbours of the same platform each run a disk stressor, fio doing random 4 KiB reads
// and writes (queue depth 16) on a file of its own, with direct I/O where the guest's file system
// allows it so that the I/O reaches the disk rather than a page cache. The neighbours (tenants
// 1..d) start first; the launch of tenant 0 is timed only once every stressor is doing I/O, and
// the host page cache is dropped just before it (cold, as YOLO). ready_s and service_s as in
// `launch`; stress_mb_s: what the neighbours read and wrote per second together, from fio's own
// status over a window that contains the whole launch, so a reader sees the contention was real.
//
// Bounded: each stressor's file (its size per profile), its run time (the run timeout, as fio's
// runtime and under `timeout -s KILL`) and its guest, which the runner destroys with the file on
// every exit path. Before anything starts, the file system the guests write to must hold the
// largest cell's files plus a margin (preflight: one line, exit 2 otherwise). lxcvm is left out:
// its d0 launch would boot the VM that the neighbours of d>0 have already booted.
import type { Experiment, ExperimentMetric, ExperimentPlanContext, ExperimentPreflight, ExecResult, Guest, GuestProcess, ProfileName } from '../core/types.ts';
import { errorMessage } from '../core/errors.ts';
import { startRedis } from '../workloads/ycsb-redis.ts';
import { shellLine } from '../core/shell-quote.ts';
import { POLL_MS, dropHostCaches } from './launch.ts';
import { launchUntilReady, since } from './ready.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** How many neighbours run a stressor, per profile (smoke keeps CI short). */
export const NEIGHBOURS: Record<ProfileName, number[]> = { smoke: [0, 1], quick: [0, 1, 2, 4], paper: [0, 1, 2, 4, 8] };
/** Each stressor's file: larger than a guest's share of any disk cache at quick and paper. */
export const STRESS_FILE_BYTES: Record<ProfileName, number> = { smoke: 128 * MiB, quick: 1 * GiB, paper: 2 * GiB };
/** Kept free beside the stressors' files (the guests' own layers, logs, results). */
export const MARGIN_BYTES = 1 * GiB;
/** fio reports its progress this often; the throughput window is at most about twice this longer than the launch. */
const STATUS_INTERVAL_S = 1;
/** What fio's status file is read of (the last complete report is all that is needed). */
const STATUS_TAIL_BYTES = 64 * 1024;
const POLL_STRESS_MS = 200;

const neighboursOf = (param: string): number => Number(param.slice(1));
const gib = (bytes: number): string => (bytes / GiB).toFixed(2);

/** The profile's neighbour counts whose guests fit: d + 1 guests of the run's memory within 3/4 of the host's. */
export function contentionParams(p: ExperimentPlanContext): { params: string[]; note?: string } {
  const most = Math.floor((0.75 * p.hostMemoryBytes) / p.memoryBytes);
  const counts = NEIGHBOURS[p.profile];
  const cut = counts.filter((d) => d + 1 > most);
  const note = cut.length
    ? `contention: d = ${cut.join(', ')} left out: ${cut[0]! + 1} guests of ${gib(p.memoryBytes)} GiB exceed 3/4 of this host's ${(p.hostMemoryBytes / GiB).toFixed(1)} GiB memory`
    : undefined;
  return { params: counts.filter((d) => d + 1 <= most).map((d) => `d${d}`), ...(note ? { note } : {}) };
}

/** Refuses a run whose stressors' files (those of its largest cell per platform) plus the margin would not fit where that platform's guests write. */
export function contentionPreflight(p: ExperimentPreflight): string | undefined {
  for (const [platform, params] of Object.entries(p.params)) {
    const d = Math.max(...params.map(neighboursOf));
    const files = d * STRESS_FILE_BYTES[p.profile];
    const room = p.room[platform];
    if (d > 0 && room && room.freeBytes < files + MARGIN_BYTES) {
      return (
        `contention: the ${d} disk stressors of ${platform}/contention/d${d} write ${gib(files)} GiB where ${platform} guests write (${room.dir}), ` +
        `whose file system has ${gib(room.freeBytes)} GiB free and needs ${gib(MARGIN_BYTES)} GiB more beside them; free some space or leave contention out (--workloads)`
      );
    }
  }
  return undefined;
}

/** The stressor in a neighbour: probe O_DIRECT, then fio randrw on its own file, time-based, reporting its progress as JSON every interval. */
export function stressScript(o: { dir: string; fileBytes: number; limitS: number }): string {
  const fio = [
    'fio --name=stress --filename=stress.dat',
    `--size=${o.fileBytes} --rw=randrw --bs=4k --ioengine=libaio --iodepth=16 --direct=$direct --randrepeat=0`,
    `--time_based --runtime=${o.limitS} --clat_percentiles=0 --eta=never`,
    `--status-interval=${STATUS_INTERVAL_S} --output-format=json --output=status.json`,
  ].join(' ');
  return [
    shellLine`mkdir -p ${o.dir} && cd ${o.dir} || exit 1`,
    // tmpfs and some overlays refuse O_DIRECT: buffered I/O then, and the sample says so
    'if dd if=/dev/zero of=probe bs=4096 count=1 oflag=direct 2>/dev/null; then direct=1; else direct=0; fi; rm -f probe; echo $direct > direct',
    `exec timeout -s KILL ${o.limitS} ${fio}`,
  ].join('\n');
}

/** One progress report of fio: bytes read and written so far by all its jobs, and their run time. */
export interface FioProgress {
  ioBytes: number;
  runtimeMs: number;
}

interface FioStatusDir {
  io_bytes: number;
  runtime?: number;
}

/**
 * The complete JSON reports in (the tail of) a file fio writes with --status-interval and
 * --output-format=json: one pretty-printed document after the other, each opened by a line `{`
 * and closed by a line `}` (inner lines are indented). A cut first or last document is skipped.
 */
export function parseFioStatus(text: string): FioProgress[] {
  const out: FioProgress[] = [];
  let start = -1;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '{') start = i;
    else if (lines[i] === '}' && start >= 0) {
      const chunk = lines.slice(start, i + 1).join('\n');
      start = -1;
      let doc: { jobs?: { job_runtime?: number; read: FioStatusDir; write: FioStatusDir }[] };
      try {
        doc = JSON.parse(chunk) as typeof doc;
      } catch {
        continue;
      }
      if (!doc.jobs?.length) continue;
      out.push({
        ioBytes: doc.jobs.reduce((s, j) => s + j.read.io_bytes + j.write.io_bytes, 0),
        runtimeMs: Math.max(...doc.jobs.map((j) => j.job_runtime ?? Math.max(j.read.runtime ?? 0, j.write.runtime ?? 0))),
      });
    }
  }
  return out;
}

/** MB/s (10^6 bytes) between two reports of one fio. */
export function mbPerS(a: FioProgress, b: FioProgress): number {
  return b.runtimeMs > a.runtimeMs ? (b.ioBytes - a.ioBytes) / (b.runtimeMs - a.runtimeMs) / 1000 : Number.NaN;
}

/** Polls sleep often: each one takes its abort listener off the run's signal again. */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** A neighbour's running stressor: its latest report, and whether it ended. */
class Stressor {
  readonly dir: string;
  readonly proc: GuestProcess;
  ended?: ExecResult;

  constructor(
    readonly guest: Guest,
    readonly index: number,
    fileBytes: number,
    limitS: number,
  ) {
    this.dir = `${guest.workdir}/contention`;
    this.proc = guest.spawn(stressScript({ dir: this.dir, fileBytes, limitS }));
    void this.proc.done.then((r) => (this.ended = r));
  }

  async latest(signal: AbortSignal): Promise<FioProgress | undefined> {
    const r = await this.guest.sh(shellLine`tail -c ${STATUS_TAIL_BYTES} ${`${this.dir}/status.json`} 2>/dev/null`, { check: false, signal, timeoutMs: 30_000 });
    return parseFioStatus(r.stdout).at(-1);
  }

  /** The first report that satisfies `ok`, polled; throws when the stressor ended or `limitMs` passed first. */
  async until(ok: (p: FioProgress) => boolean, limitMs: number, what: string, signal: AbortSignal): Promise<FioProgress> {
    for (const end = Date.now() + limitMs; ; ) {
      const p = await this.latest(signal);
      if (p && ok(p)) return p;
      if (this.ended) {
        const why = (this.ended.stderr || this.ended.stdout).trim().split('\n').slice(-2).join(' | ');
        throw new Error(`the disk stressor of neighbour ${this.index} ended (exit ${this.ended.exitCode}) before ${what}${why ? `: ${why}` : ''}`);
      }
      if (Date.now() > end || signal.aborted) throw new Error(`the disk stressor of neighbour ${this.index} did not report ${what} within ${Math.round(limitMs / 1000)} s`);
      await sleep(POLL_STRESS_MS, signal);
    }
  }

  async direct(signal: AbortSignal): Promise<boolean> {
    return (await this.guest.sh(shellLine`cat ${`${this.dir}/direct`}`, { check: false, signal, timeoutMs: 30_000 })).stdout.trim() === '1';
  }
}

const contention: Experiment = {
  name: 'contention',
  resource: 'disk',
  description: 'one guest launched (host page cache cold) while d neighbours run fio random reads and writes: seconds to ready and to Redis answering PING, and the neighbours\' MB/s meanwhile',
  metrics: [
    { metric: 'ready_s', unit: 's', better: 'lower' },
    { metric: 'service_s', unit: 's', better: 'lower' },
    { metric: 'stress_mb_s', unit: 'MB/s', better: 'higher' },
  ],
  guestPackages: ['redis-server', 'fio'],
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm'],
  reference: 'd0',
  params: contentionParams,
  preflight: contentionPreflight,
  // a cold launch and its service; each neighbour: provisioned, its file laid out (~150 MB/s), then the status windows
  estimateS: (param, profile) => {
    const d = neighboursOf(param);
    return 4 + (d > 0 ? 4 + d * (1 + STRESS_FILE_BYTES[profile] / 150e6) : 0);
  },
  async run(ctx) {
    const d = neighboursOf(ctx.param);
    const fileBytes = STRESS_FILE_BYTES[ctx.profile.name];
    const neighbours = await Promise.all(Array.from({ length: d }, (_, i) => ctx.provision(i + 1)));
    const stressors = neighbours.map((g, i) => new Stressor(g, i + 1, fileBytes, Math.ceil(ctx.timeoutS)));
    try {
      // every stressor past laying its file out and doing random I/O before the launch is timed
      const startLimitMs = ctx.timeoutS * 600;
      await Promise.all(stressors.map((s) => s.until((p) => p.ioBytes > 0, startLimitMs, 'any I/O', ctx.signal)));
      await dropHostCaches(ctx.signal);
      const before = await Promise.all(stressors.map((s) => s.until(() => true, startLimitMs, 'its progress', ctx.signal)));
      const t0 = performance.now();
      const { guest, readyS } = await launchUntilReady(ctx, 0, t0);
      await startRedis(guest, ctx, 'contention', POLL_MS);
      const serviceS = since(t0);
      // a report each stressor wrote after the launch ended closes its window
      const stress = await (async (): Promise<ExperimentMetric> => {
        if (d === 0) return { metric: 'stress_mb_s', value: 0, note: 'no neighbours' };
        try {
          const ends = await Promise.all(stressors.map((s) => s.latest(ctx.signal)));
          const after = await Promise.all(stressors.map((s, i) => s.until((p) => p.runtimeMs > (ends[i]?.runtimeMs ?? before[i]!.runtimeMs), 10 * STATUS_INTERVAL_S * 1000, 'progress after the launch', ctx.signal)));
          const direct = await Promise.all(stressors.map((s) => s.direct(ctx.signal)));
          const windowS = Math.max(...after.map((a, i) => a.runtimeMs - before[i]!.runtimeMs)) / 1000;
          const io = direct.every(Boolean) ? 'direct I/O' : direct.some(Boolean) ? 'direct I/O in some neighbours, buffered in others' : "buffered I/O (the guests' file system refused O_DIRECT)";
          return {
            metric: 'stress_mb_s',
            value: after.reduce((s, a, i) => s + mbPerS(before[i]!, a), 0),
            note: `${d} x fio randrw 4 KiB QD16 on ${fileBytes / MiB} MiB each, ${io}; over fio's reports ${windowS.toFixed(1)} s apart, around the ${serviceS.toFixed(2)} s launch`,
          };
        } catch (err) {
          return { metric: 'stress_mb_s', value: null, status: 'error', message: errorMessage(err) };
        }
      })();
      return {
        metrics: [
          { metric: 'ready_s', value: readyS },
          { metric: 'service_s', value: serviceS },
          stress,
        ],
      };
    } finally {
      // the runner destroys the neighbours (and their files) next; their host-side handles end now
      for (const s of stressors) s.proc.kill('SIGKILL');
    }
  },
};

export default contention;
