// The study's disk workload: filebench's randomrw personality (one preallocated file, one thread
// reading and one thread writing it at random offsets, 8 KB I/O, buffered). A `filebench` binary
// in the guest is used as it is; filebench is not packaged in Debian, so otherwise an fio job with
// the same shape runs instead, and the sample says which tool measured it.
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, Metric, ProfileName, RunContext, RunResult, Workload } from '../core/types.ts';

export interface RandomRw {
  fileBytes: number;
  ioBytes: number;
  runtimeS: number;
}

const MiB = 1024 ** 2;
/** paper: randomrw's own defaults (5 GB file, 8 KB I/O) and filebench's usual 60 s run. */
export const RANDOMRW: Record<ProfileName, RandomRw> = {
  smoke: { fileBytes: 128 * MiB, ioBytes: 8192, runtimeS: 8 },
  quick: { fileBytes: 2048 * MiB, ioBytes: 8192, runtimeS: 30 },
  paper: { fileBytes: 5120 * MiB, ioBytes: 8192, runtimeS: 60 },
};

export interface RandomRwResult {
  opsPerS: number;
  mbPerS: number;
  latencyMs: number;
}

/** The fio job: two jobs on one shared file, buffered psync I/O, time based. */
export function fioJob(file: string, p: RandomRw): string {
  return [
    '[global]',
    `filename=${file}`,
    `size=${p.fileBytes}`,
    `bs=${p.ioBytes}`,
    'ioengine=psync',
    'direct=0',
    'time_based=1',
    `runtime=${p.runtimeS}`,
    // a seed per run, like filebench; the cache of the file is dropped first so every run starts cold
    'randrepeat=0',
    'invalidate=1',
    '',
    '[rand-read]',
    'rw=randread',
    '',
    '[rand-write]',
    'rw=randwrite',
    '',
  ].join('\n');
}

/** filebench's workload language for randomrw with these parameters. */
export function filebenchWorkload(dir: string, p: RandomRw): string {
  const flow = (op: 'read' | 'write') =>
    `  thread name=rand-${op[0]}-thread,memsize=5m,instances=1\n  {\n    flowop ${op} name=rand-${op}1,filename=largefile1,iosize=${p.ioBytes},random,workingset=0,directio=0\n  }`;
  return [
    `define file name=largefile1,path=${dir},size=${p.fileBytes},prealloc,reuse,paralloc`,
    'define process name=rand-rw,instances=1',
    '{',
    flow('read'),
    flow('write'),
    '}',
    `run ${p.runtimeS}`,
    '',
  ].join('\n');
}

interface FioDir {
  iops: number;
  bw_bytes: number;
  total_ios: number;
  lat_ns?: { mean: number };
  clat_ns?: { mean: number };
}

/** fio --output-format=json: ops/s and MB/s summed over both jobs, latency weighted by I/O count. */
export function parseFioJson(text: string): RandomRwResult {
  const start = text.indexOf('{');
  if (start < 0) throw new Error('fio printed no JSON');
  const doc = JSON.parse(text.slice(start)) as { jobs?: { jobname: string; error: number; read: FioDir; write: FioDir }[] };
  if (!doc.jobs?.length) throw new Error('fio JSON has no jobs');
  let ops = 0;
  let bytes = 0;
  let ios = 0;
  let latNs = 0;
  for (const job of doc.jobs) {
    if (job.error) throw new Error(`fio job ${job.jobname} failed with error ${job.error}`);
    for (const d of [job.read, job.write]) {
      if (!d || d.total_ios === 0) continue;
      ops += d.iops;
      bytes += d.bw_bytes;
      ios += d.total_ios;
      latNs += (d.lat_ns?.mean ?? d.clat_ns?.mean ?? 0) * d.total_ios;
    }
  }
  if (ios === 0) throw new Error('fio did no I/O');
  return { opsPerS: ops, mbPerS: bytes / 1e6, latencyMs: latNs / ios / 1e6 };
}

/** filebench's summary line (its "mb/s" is MiB/s). */
export function parseFilebench(text: string): RandomRwResult {
  // 1.5: `... 18211/18211 rd/wr 284.5mb/s 0.054ms/op`; 1.4: `..., (19/20 r/w), 0.3mb/s, 0us cpu/op, 0.4ms latency`
  const m = text.match(
    /IO Summary:\s+\d+ ops,?\s+([\d.]+) ops\/s,?\s+\(?[\d.]+\/[\d.]+ r(?:d\/wr|\/w)\)?,?\s+([\d.]+)mb\/s,?\s+(?:[\d.]+us cpu\/op,?\s+)?([\d.]+)ms(?:\/op| latency)/,
  );
  if (!m) throw new Error('no "IO Summary" line in the filebench output');
  return { opsPerS: Number(m[1]), mbPerS: (Number(m[2]) * MiB) / 1e6, latencyMs: Number(m[3]) };
}

const filebench: Workload = {
  name: 'filebench',
  resource: 'disk',
  description: 'filebench randomrw (fio equivalent when filebench is absent): one file, one random reader, one random writer, 8 KB I/O',
  estimatedSeconds: { smoke: 15, quick: 60, paper: 180 },
  metrics: [
    { metric: 'ops_s', unit: 'ops/s', better: 'higher' },
    { metric: 'mb_s', unit: 'MB/s', better: 'higher' },
    { metric: 'latency_ms', unit: 'ms', better: 'lower' },
  ],
  guestPackages: ['fio'],
  hostPackages: ['fio'],
  async setup(guest: Guest, ctx: RunContext) {
    const p = RANDOMRW[ctx.profile.name];
    const dir = `${guest.workdir}/filebench`;
    // lay the file out before timing (filebench's prealloc), with real data, flushed to disk
    await guestShell(guest, { signal: ctx.signal, timeoutMs: ctx.timeoutS * 1000 })`mkdir -p ${dir} && command -v filebench >/dev/null || { command -v fio >/dev/null || { echo 'neither filebench nor fio in the guest' >&2; exit 2; }; fio --name=layout --filename=${dir}/largefile1 --size=${p.fileBytes} --bs=1M --rw=write --end_fsync=1 --output=/dev/null; }`;
  },
  async run(guest: Guest, ctx: RunContext): Promise<RunResult> {
    const p = RANDOMRW[ctx.profile.name];
    const dir = `${guest.workdir}/filebench`;
    const hasFilebench = (await guest.sh('command -v filebench', { check: false, signal: ctx.signal })).exitCode === 0;
    const out = hasFilebench
      ? (await guest.sh(shellLine`cat > ${dir}/randomrw.f <<'VB_EOF'` + `\n${filebenchWorkload(dir, p)}VB_EOF\n` + shellLine`filebench -f ${dir}/randomrw.f`, { signal: ctx.signal })).stdout
      : (await guest.sh(shellLine`cat > ${dir}/randomrw.fio <<'VB_EOF'` + `\n${fioJob(dir + '/largefile1', p)}VB_EOF\n` + shellLine`fio --output-format=json ${dir}/randomrw.fio`, { signal: ctx.signal })).stdout;
    const res = hasFilebench ? parseFilebench(out) : parseFioJson(out);
    const note = hasFilebench ? 'filebench randomrw' : 'fio job equivalent to filebench randomrw';
    return {
      metrics: [
        { metric: 'ops_s', unit: 'ops/s', better: 'higher', value: res.opsPerS, note },
        { metric: 'mb_s', unit: 'MB/s', better: 'higher', value: res.mbPerS, note },
        { metric: 'latency_ms', unit: 'ms', better: 'lower', value: res.latencyMs, note },
      ],
      // fio's JSON also holds each job's usr_cpu and sys_cpu (percent of the run)
      raw: [{ name: hasFilebench ? 'filebench.txt' : 'fio.json', text: out }],
    };
  },
};

export default filebench;
