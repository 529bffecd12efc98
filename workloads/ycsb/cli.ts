// The harness's YCSB client as a process, invoked like Java YCSB:
//   node --import tsx workloads/ycsb/cli.ts load|run -p redis.host=H -p redis.port=P
//     [-p workload=a] [-p recordcount=N] [-p operationcount=N] [-p requestdistribution=zipfian]
//     [-threads N] [-target OPS] [-s]
// Measurements go to stdout in YCSB's text format; status lines and errors to stderr.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPhase } from './client.ts';
import { resolveOptions, type YcsbOptions } from './core-workload.ts';

const NUMERIC: Array<keyof YcsbOptions> = ['recordcount', 'operationcount', 'threads', 'target', 'fieldcount', 'fieldlength', 'maxscanlength', 'maxexecutiontime', 'insertstart', 'seed'];

export function parseCliArgs(argv: string[]): { phase: 'load' | 'run'; host: string; port: number; status: boolean; options: YcsbOptions } {
  const [phase, ...rest] = argv;
  if (phase !== 'load' && phase !== 'run') throw new Error(`first argument must be 'load' or 'run', got '${phase ?? ''}'`);
  const props: Record<string, string> = {};
  let status = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const next = () => {
      const v = rest[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '-p') {
      const kv = next();
      const eq = kv.indexOf('=');
      if (eq < 1) throw new Error(`-p expects key=value, got '${kv}'`);
      props[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '-threads') props['threadcount'] = next();
    else if (a === '-target') props['target'] = next();
    else if (a === '-s') status = true;
    else throw new Error(`unknown argument '${a}'`);
  }
  const host = props['redis.host'] ?? '127.0.0.1';
  const port = Number(props['redis.port'] ?? 6379);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`redis.port must be a TCP port, got '${props['redis.port']}'`);
  const partial: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    const key = k === 'threadcount' ? 'threads' : k;
    if (key.startsWith('redis.')) continue;
    if ((NUMERIC as string[]).includes(key)) {
      const n = Number(v);
      partial[key] = v.trim() === '' ? NaN : n;
    } else if (key === 'workload' || key === 'requestdistribution') partial[key] = v;
    else throw new Error(`unsupported property '${k}'`);
  }
  return { phase, host, port, status, options: resolveOptions(partial as Partial<YcsbOptions>) };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`ycsb: ${(err as Error).message}\n`);
    return 2;
  }
  const ac = new AbortController();
  process.once('SIGTERM', () => ac.abort());
  process.once('SIGINT', () => ac.abort());
  try {
    const out = await runPhase(args.phase, args.options, args.host, args.port, {
      signal: ac.signal,
      status: args.status ? (l) => process.stderr.write(l + '\n') : undefined,
    });
    process.stdout.write(out.text);
    return 0;
  } catch (err) {
    process.stderr.write(`ycsb: ${(err as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().then((code) => {
    process.exitCode = code;
  });
}
