// Is the harness's YCSB client fast enough to measure Redis rather than itself? Starts a private
// redis-server on loopback, then alternates, at each connection count: redis-benchmark (C, one
// request in flight per connection, no pipelining) running YCSB workload A's two commands (HGETALL
// of a 10 x 100-byte hash, HSET of one 100-byte field), and our client's workload A run phase on
// the same server. Prints both and the ratio ours / redis-benchmark's 50/50 mix.
//   npx tsx workloads/ycsb/bench.ts [--connections 1,8,16] [--seconds 8] [--rounds 2]
// Not a test: a number to read on the machine that runs the suites (it shares its CPUs with Redis).
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from 'simple-statistics';
import { runYcsb } from '../ycsb-redis.ts';
import { portFor, tcpOpen } from '../service-util.ts';
import { resolveOptions } from './core-workload.ts';
import { waitForRedis } from './resp.ts';

const HOST = '127.0.0.1';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** requests/s of one redis-benchmark command (its CSV line: "test","rps",...). */
export function parseRedisBenchmarkCsv(text: string): number {
  const row = text.trim().split('\n').find((l) => /^"[^"]+","[\d.]+"/.test(l));
  const rps = Number(row?.split(',')[1]?.replace(/"/g, ''));
  if (!Number.isFinite(rps) || rps <= 0) throw new Error(`redis-benchmark printed no rate: ${text.slice(0, 200)}`);
  return rps;
}

async function redisBenchmark(port: number, connections: number, requests: number, command: string[]): Promise<number> {
  const r = await execa('redis-benchmark', ['-h', HOST, '-p', String(port), '-c', String(connections), '-n', String(requests), '--csv', ...command]);
  return parseRedisBenchmarkCsv(r.stdout);
}

async function main(): Promise<void> {
  const connections = arg('connections', '1,8,16').split(',').map(Number);
  const seconds = Number(arg('seconds', '8'));
  const rounds = Number(arg('rounds', '2'));
  const recordcount = 10_000;
  let port = portFor('ycsb-bench', 'redis');
  while (await tcpOpen(HOST, port, 300)) port++;
  const dir = mkdtempSync(join(tmpdir(), 'ycsb-bench-'));
  const server = execa('redis-server', ['--bind', HOST, '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', '', '--maxclients', '4096'], { reject: false });
  const ctx = { signal: new AbortController().signal, log: (l: string) => console.error(l) };
  try {
    await waitForRedis(HOST, port, 15_000);
    const load = resolveOptions({ workload: 'a', recordcount, threads: 8 });
    await runYcsb('load', load, HOST, port, ctx, 120_000);
    // one record as YCSB stores it, for redis-benchmark's commands
    const field = 'x'.repeat(100);
    await execa('redis-cli', ['-h', HOST, '-p', String(port), 'HSET', 'bench:rec', ...Array.from({ length: 10 }, (_, i) => [`field${i}`, field]).flat()]);
    const { stdout: version } = await execa('redis-server', ['--version']);
    console.log(`${version.trim()}; ${recordcount} records; ${rounds} round(s) of ~${seconds} s per tool and connection count; medians`);
    console.log('connections\tredis-benchmark HGETALL/s\tHSET/s\t50/50 mix ops/s\tycsb client workload A ops/s\tratio of medians\tmedian of per-round ratios');
    for (const c of connections) {
      const ours: number[] = [];
      const theirs: number[] = [];
      const ratios: number[] = [];
      const gets: number[] = [];
      const sets: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // size redis-benchmark's request count from a short probe so it runs about `seconds` too
        const probe = await redisBenchmark(port, c, 20_000, ['HGETALL', 'bench:rec']);
        const n = Math.max(20_000, Math.round((probe * seconds) / 2));
        const get = await redisBenchmark(port, c, n, ['HGETALL', 'bench:rec']);
        const set = await redisBenchmark(port, c, n, ['HSET', 'bench:rec', 'field0', field]);
        gets.push(get);
        sets.push(set);
        theirs.push(1 / (0.5 / get + 0.5 / set));
        const o = resolveOptions({ workload: 'a', recordcount, operationcount: 100_000_000, threads: c, maxexecutiontime: seconds, seed: round + 1 });
        const r = await runYcsb('run', o, HOST, port, ctx, (seconds + 60) * 1000);
        ours.push(r.throughput);
        ratios.push(r.throughput / theirs[theirs.length - 1]!);
        console.error(`  c=${c} round ${round + 1}: redis-benchmark HGETALL ${Math.round(get)} HSET ${Math.round(set)}; ycsb ${Math.round(r.throughput)}`);
      }
      const t = median(theirs);
      const u = median(ours);
      console.log([c, Math.round(median(gets)), Math.round(median(sets)), Math.round(t), Math.round(u), `${((100 * u) / t).toFixed(0)}%`, `${(100 * median(ratios)).toFixed(0)}%`].join('\t'));
    }
  } finally {
    server.kill('SIGTERM');
    await server;
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
