// YCSB on Redis (the study's key-value workload): Debian's redis-server in the measured guest,
// the YCSB client outside it, on the host, talking to the guest's address on the harness network
// (bare metal: 127.0.0.1 with a port of the guest's own). The client is Java YCSB when YCSB_HOME
// points at an installation, otherwise the harness's TypeScript client (workloads/ycsb/), which
// prints the same text; one parser reads both.
//
// Why on the host: guests have no Node (and Java YCSB is not packaged), the host reaches every
// platform's guest addresses, and a client outside the target's cgroup measures the server, not
// itself. Its cost lands on the host like a remote client's NIC and stack would; bench/ycsb-client-
// vs-redis-benchmark.ts checks that it keeps up with redis-benchmark at the same connection count.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, Metric, MetricSpec, ProfileName, RunContext, Workload } from '../core/types.ts';
import { addressOf, ensureCommands, parseKv, portFor, startServer, tcpOpen, waitUntilReady, type Server } from './service-util.ts';
import { CORE_WORKLOADS, DISTRIBUTIONS, operationsOf, resolveOptions, validateOptions, type YcsbOptions } from './ycsb/core-workload.ts';
import { parseYcsbOutput, type YcsbResult } from './ycsb/output.ts';
import { waitForRedis } from './ycsb/resp.ts';

const CLI = fileURLToPath(new URL('./ycsb/cli.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** Per-profile sizes: smoke is seconds, paper is YCSB's usual 1M records (about 1 GiB in Redis). */
export const YCSB_PROFILES: Record<ProfileName, Partial<YcsbOptions>> = {
  smoke: { recordcount: 10_000, operationcount: 150_000, threads: 8, maxexecutiontime: 20 },
  quick: { recordcount: 100_000, operationcount: 2_000_000, threads: 16, maxexecutiontime: 240 },
  paper: { recordcount: 1_000_000, operationcount: 10_000_000, threads: 32, maxexecutiontime: 1800 },
};

const NUMERIC_KEYS = ['recordcount', 'operationcount', 'threads', 'target', 'maxexecutiontime', 'seed', 'fieldcount', 'fieldlength', 'maxscanlength'] as const;

/**
 * Options for one run: profile sizes, then the workload's own config, then the environment
 * (VIRTBENCH_YCSB="recordcount=5000,threads=4,requestdistribution=uniform"); the workload letter
 * is fixed by the registered instance because it decides which metrics exist.
 */
export function ycsbOptionsFor(profile: ProfileName, config: Partial<YcsbOptions>, env: string | undefined = process.env.VIRTBENCH_YCSB): YcsbOptions {
  const over: Partial<YcsbOptions> = {};
  for (const [k, v] of Object.entries(parseKv(env, 'VIRTBENCH_YCSB'))) {
    if ((NUMERIC_KEYS as readonly string[]).includes(k)) (over as Record<string, unknown>)[k] = v === '' ? NaN : Number(v);
    else if (k === 'requestdistribution') over.requestdistribution = v as YcsbOptions['requestdistribution'];
    else throw new Error(`VIRTBENCH_YCSB: unsupported key '${k}' (use ${[...NUMERIC_KEYS, 'requestdistribution'].join(', ')})`);
  }
  return resolveOptions({ ...YCSB_PROFILES[profile], ...config, ...over });
}

const METRIC_NAME: Record<string, string> = { READ: 'read', UPDATE: 'update', INSERT: 'insert', SCAN: 'scan', 'READ-MODIFY-WRITE': 'rmw' };

function metricsFor(workload: string): MetricSpec[] {
  const out: MetricSpec[] = [{ metric: 'throughput', unit: 'ops/s', better: 'higher' }];
  for (const op of operationsOf(workload)) {
    const n = METRIC_NAME[op]!;
    out.push({ metric: `${n}-latency-avg`, unit: 'us', better: 'lower' }, { metric: `${n}-latency-p95`, unit: 'us', better: 'lower' }, { metric: `${n}-latency-p99`, unit: 'us', better: 'lower' });
  }
  return out;
}

/** The metrics of a parsed YCSB run; throws when operations failed or a section is missing. */
export function ycsbMetrics(r: YcsbResult, workload: string): Metric[] {
  const failed = Object.entries(r.operations).filter(([name, s]) => name.endsWith('-FAILED') && s.operations > 0);
  if (failed.length) throw new Error(`YCSB reported failed operations: ${failed.map(([n, s]) => `${n} ${s.operations}`).join(', ')}`);
  const out: Metric[] = [{ metric: 'throughput', unit: 'ops/s', better: 'higher', value: r.throughput }];
  for (const op of operationsOf(workload)) {
    const s = r.operations[op];
    if (!s || s.operations === 0) throw new Error(`YCSB output has no ${op} operations`);
    const n = METRIC_NAME[op]!;
    out.push(
      { metric: `${n}-latency-avg`, unit: 'us', better: 'lower', value: s.averageUs },
      { metric: `${n}-latency-p95`, unit: 'us', better: 'lower', value: s.percentilesUs['95'] ?? NaN },
      { metric: `${n}-latency-p99`, unit: 'us', better: 'lower', value: s.percentilesUs['99'] ?? NaN },
    );
  }
  return out;
}

/** Java YCSB, when YCSB_HOME names an installation with its launcher. */
export function realYcsb(home: string | undefined = process.env.YCSB_HOME): { launcher: string; home: string } | undefined {
  if (!home) return undefined;
  for (const l of ['bin/ycsb.sh', 'bin/ycsb']) if (existsSync(join(home, l))) return { launcher: join(home, l), home };
  return undefined;
}

/** The command line of one YCSB phase, for Java YCSB or the harness's client. */
export function ycsbCommand(phase: 'load' | 'run', o: YcsbOptions, host: string, port: number, ycsbHome?: string): { file: string; args: string[]; client: string } {
  const props = [
    `recordcount=${o.recordcount}`,
    `operationcount=${o.operationcount}`,
    `requestdistribution=${o.requestdistribution}`,
    `fieldcount=${o.fieldcount}`,
    `fieldlength=${o.fieldlength}`,
    `maxscanlength=${o.maxscanlength}`,
    `insertstart=${o.insertstart}`,
    `redis.host=${host}`,
    `redis.port=${port}`,
  ];
  if (o.maxexecutiontime > 0) props.push(`maxexecutiontime=${Math.ceil(o.maxexecutiontime)}`);
  const threads = ['-threads', String(o.threads)];
  const target = o.target > 0 ? ['-target', String(o.target)] : [];
  const real = realYcsb(ycsbHome);
  if (real) {
    return {
      file: real.launcher,
      args: [phase, 'redis', '-s', '-P', join(real.home, 'workloads', `workload${o.workload}`), ...props.flatMap((p) => ['-p', p]), ...threads, ...target],
      client: `Java YCSB (${real.home})`,
    };
  }
  const tsx = import.meta.resolve('tsx');
  return {
    file: process.execPath,
    args: ['--import', tsx, CLI, phase, '-s', '-p', `workload=${o.workload}`, '-p', `seed=${o.seed}`, ...props.flatMap((p) => ['-p', p]), ...threads, ...target],
    client: 'virtbench TypeScript YCSB client',
  };
}

/** Run one YCSB phase from the host; returns the parsed output, and the text itself as `raw` (the run's artifact). */
export async function runYcsb(phase: 'load' | 'run', o: YcsbOptions, host: string, port: number, ctx: Pick<RunContext, 'signal' | 'log'>, timeoutMs: number): Promise<YcsbResult & { raw: string }> {
  const cmd = ycsbCommand(phase, o, host, port);
  const r = await execa(cmd.file, cmd.args, { reject: false, cancelSignal: ctx.signal, timeout: timeoutMs, forceKillAfterDelay: 2000, maxBuffer: 64 * 1024 * 1024 });
  if (r.isCanceled || r.timedOut) throw new Error(`YCSB ${phase} phase (${cmd.client}) ${r.timedOut ? `did not finish within ${Math.round(timeoutMs / 1000)} s` : 'was stopped'}`);
  if (r.exitCode !== 0) {
    const tail = String(r.stderr ?? '').trim().split('\n').slice(-2).join(' | ');
    throw new Error(`YCSB ${phase} phase (${cmd.client}) exited ${r.exitCode ?? r.signal}: ${tail}`);
  }
  return { ...parseYcsbOutput(String(r.stdout)), raw: `# ${cmd.client}: ${phase} phase\n${String(r.stdout)}` };
}

interface RedisState {
  host: string;
  port: number;
  server: Server;
  options: YcsbOptions;
}
const servers = new WeakMap<Guest, RedisState>();

/**
 * Start redis-server in the guest on its address and a port of its own; retries another port if
 * taken. `pollMs`: how often readiness is tried (launch-time measurements poll every few ms).
 */
export async function startRedis(guest: Guest, ctx: Pick<RunContext, 'signal' | 'log'>, service = 'redis', pollMs?: number): Promise<{ host: string; port: number; server: Server }> {
  await ensureCommands(guest, [{ command: 'redis-server', pkg: 'redis-server' }], { signal: ctx.signal, log: ctx.log });
  const host = addressOf(guest);
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = portFor(guest.name, service, attempt);
    // bare-metal guests share the host's ports: never mistake someone else's server for ours
    if (await tcpOpen(host, port, 300)) {
      last = new Error(`port ${port} of ${host} is already in use`);
      continue;
    }
    const dir = `${guest.workdir}/${service}-${port}`;
    const server = startServer(
      guest,
      shellLine`mkdir -p ${dir} && exec redis-server --bind ${host} --port ${port} --dir ${dir} --save '' --appendonly no --protected-mode no --daemonize no --logfile '' --maxclients 4096`,
    );
    try {
      await waitUntilReady(`redis-server in guest ${guest.name} at ${host}:${port}`, server, async () => {
        try {
          await waitForRedis(host, port, 500, ctx.signal, pollMs);
          return true;
        } catch {
          return false;
        }
      }, READY_TIMEOUT_MS, ctx.signal, pollMs);
      return { host, port, server };
    } catch (err) {
      last = err;
      server.proc.kill('SIGKILL');
      if (!/address already in use/i.test(String((err as Error).message))) break;
    }
  }
  throw last;
}

export interface YcsbRedisConfig extends Partial<YcsbOptions> {
  /** Registry name (default ycsb-redis). */
  name?: string;
}

/** A YCSB-on-Redis workload; `ycsbRedis()` is workload A as the study ran it. */
export function ycsbRedis(config: YcsbRedisConfig = {}): Workload {
  const { name = 'ycsb-redis', ...opts } = config;
  const letter = (opts.workload ?? 'a').toLowerCase();
  return {
    name,
    resource: 'network',
    description: `YCSB workload ${letter.toUpperCase()} on Redis (redis-server in the guest, YCSB client on the host)`,
    estimatedSeconds: { smoke: 25, quick: 300, paper: 1800 },
    metrics: letter in CORE_WORKLOADS ? metricsFor(letter) : [{ metric: 'throughput', unit: 'ops/s', better: 'higher' }],
    guestPackages: ['redis-server'],
    async setup(guest, ctx) {
      const o = ycsbOptionsFor(ctx.profile.name, opts);
      const problems = validateOptions(o);
      if (problems.length) throw new Error(`ycsb-redis: ${problems.join('; ')}`);
      if (!DISTRIBUTIONS.includes(o.requestdistribution)) throw new Error(`ycsb-redis: unknown distribution ${o.requestdistribution}`);
      const { host, port, server } = await startRedis(guest, ctx);
      servers.set(guest, { host, port, server, options: o });
      const cmd = ycsbCommand('load', o, host, port);
      ctx.log(`ycsb-redis: ${cmd.client}, workload ${o.workload}, ${o.recordcount} records, ${o.threads} connections, redis at ${host}:${port}`);
      await runYcsb('load', o, host, port, ctx, ctx.timeoutS * 1000);
    },
    async run(guest, ctx) {
      const st = servers.get(guest);
      if (!st) throw new Error(`ycsb-redis: run() before setup() for guest ${guest.name}`);
      const ended = st.server.exited();
      if (ended !== undefined) throw new Error(`redis-server in guest ${guest.name} ${ended}`);
      const r = await runYcsb('run', st.options, st.host, st.port, ctx, ctx.timeoutS * 1000);
      return { metrics: ycsbMetrics(r, st.options.workload), raw: [{ name: 'ycsb.txt', text: r.raw }] };
    },
  };
}

export default ycsbRedis();
