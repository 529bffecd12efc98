// The harness's own YCSB client for Redis: YCSB's load and run phases with the core workloads'
// semantics, records stored as YCSB's Redis binding stores them (one hash per record, plus the
// "_indices" sorted set scored by the key's Java hashCode for scans), latencies in HDR histograms,
// output in YCSB's text format. "threads" are connections, each with one request in flight.
import { PerformanceObserver } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { KeyNames, RunChooser, fieldNames, validateOptions, type Operation, type YcsbOptions } from './core-workload.ts';
import { javaStringHash, seededRandom, type Random } from './generators.ts';
import { formatYcsbOutput, type OperationReport } from './output.ts';
import { RedisReplyError, RespConnection, encodeCommand, type Reply } from './resp.ts';

export const INDEX_KEY = '_indices';
const PERCENTILES = [95, 99];

class Measurement {
  readonly hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  min = Infinity;
  readonly returns = new Map<string, number>();
  record(us: number, status: string): void {
    const v = Math.max(0, Math.round(us));
    this.hist.recordValue(v);
    if (v < this.min) this.min = v;
    this.returns.set(status, (this.returns.get(status) ?? 0) + 1);
  }
  report(name: string): OperationReport {
    const h = this.hist;
    return {
      name,
      operations: h.totalCount,
      averageUs: h.mean,
      minUs: Number.isFinite(this.min) ? this.min : 0,
      maxUs: h.maxValue,
      percentiles: PERCENTILES.map((p) => [p, h.getValueAtPercentile(p)]),
      returns: [...this.returns],
    };
  }
}

class Measurements {
  private readonly byName = new Map<string, Measurement>();
  constructor(private readonly order: string[]) {}
  get(name: string): Measurement {
    let m = this.byName.get(name);
    if (!m) this.byName.set(name, (m = new Measurement()));
    return m;
  }
  reports(): OperationReport[] {
    const names = [...this.byName.keys()].sort((a, b) => rank(a, this.order) - rank(b, this.order) || a.localeCompare(b));
    return names.map((n) => this.byName.get(n)!.report(n));
  }
}

function rank(name: string, order: string[]): number {
  const i = order.indexOf(name.replace(/-FAILED$/, ''));
  return (i < 0 ? order.length : i) * 2 + (name.endsWith('-FAILED') ? 1 : 0);
}

/** Printable random bytes; values are slices of it at random offsets (as cheap as YCSB's RandomByteIterator is random). */
function valuePool(random: Random, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = 33 + Math.floor(random() * 94);
  return b;
}

export interface ClientIo {
  /** Status lines (stderr in the CLI). */
  status?: (line: string) => void;
  signal?: AbortSignal;
}

export interface PhaseOutcome {
  text: string;
  operationsDone: number;
  errors: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Run YCSB's load ('load') or transaction ('run') phase against one Redis server; returns YCSB text. */
export async function runPhase(phase: 'load' | 'run', o: YcsbOptions, host: string, port: number, io: ClientIo = {}): Promise<PhaseOutcome> {
  const problems = validateOptions(o);
  if (problems.length) throw new Error(problems.join('; '));
  const random = seededRandom(o.seed * 7919 + (phase === 'load' ? 1 : 2));
  const pool = valuePool(random, 1 << 20);
  const fields = fieldNames(o.fieldcount);
  const keys = new KeyNames();
  const value = () => {
    const off = Math.floor(random() * (pool.length - o.fieldlength));
    return pool.subarray(off, off + o.fieldlength);
  };
  const m = new Measurements(['READ', 'UPDATE', 'INSERT', 'SCAN', 'READ-MODIFY-WRITE', 'CLEANUP']);
  const chooser = phase === 'run' ? new RunChooser(o, random) : undefined;

  let gcCount = 0;
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      gcMs += e.duration;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });

  const conns: RespConnection[] = [];
  try {
    for (let i = 0; i < o.threads; i++) conns.push(await RespConnection.connect(host, port));
  } catch (err) {
    for (const c of conns) c.destroy();
    gcObserver.disconnect();
    throw err;
  }

  let stop = false;
  let done = 0;
  let errors = 0;
  let loadNext = o.insertstart;
  const loadEnd = o.recordcount;
  const total = phase === 'load' ? o.recordcount - o.insertstart : o.operationcount;
  const onAbort = () => {
    stop = true;
  };
  io.signal?.addEventListener('abort', onAbort, { once: true });

  const ok = (r: Reply) => !(r instanceof RedisReplyError);
  const record = (name: Operation, t0: number, good: boolean) => {
    const us = (performance.now() - t0) * 1000;
    if (good) m.get(name).record(us, 'OK');
    else {
      errors++;
      m.get(`${name}-FAILED`).record(us, 'ERROR');
      const main = m.get(name);
      main.returns.set('ERROR', (main.returns.get('ERROR') ?? 0) + 1);
    }
  };

  // One function per operation, with the Redis binding's commands; a lost connection ends the run.
  const read = async (c: RespConnection, key: string): Promise<boolean> => {
    const t0 = performance.now();
    const r = await c.raw(encodeCommand(['HGETALL', key]), false);
    const good = typeof r === 'number' && r > 0;
    record('READ', t0, good);
    return good;
  };
  const update = async (c: RespConnection, key: string): Promise<boolean> => {
    const t0 = performance.now();
    const r = await c.raw(encodeCommand(['HMSET', key, fields[chooser!.field()]!, value()]), false);
    const good = r === 'OK';
    record('UPDATE', t0, good);
    return good;
  };
  const insert = async (c: RespConnection, keynum: number): Promise<boolean> => {
    const key = keys.get(keynum);
    const args: Array<string | Buffer> = ['HMSET', key];
    for (const f of fields) args.push(f, value());
    const t0 = performance.now();
    let good = (await c.raw(encodeCommand(args), false)) === 'OK';
    if (good) good = ok(await c.raw(encodeCommand(['ZADD', INDEX_KEY, String(javaStringHash(key)), key]), false));
    record('INSERT', t0, good);
    return good;
  };
  const scan = async (c: RespConnection, key: string): Promise<boolean> => {
    const t0 = performance.now();
    const len = chooser!.scanLen();
    const r = await c.raw(encodeCommand(['ZRANGEBYSCORE', INDEX_KEY, String(javaStringHash(key)), '+inf', 'LIMIT', '0', String(len)]));
    let good = Array.isArray(r);
    if (Array.isArray(r)) {
      for (const k of r) {
        if (!Buffer.isBuffer(k)) {
          good = false;
          break;
        }
        if (typeof (await c.raw(encodeCommand(['HGETALL', k]), false)) !== 'number') good = false;
      }
    }
    record('SCAN', t0, good);
    return good;
  };

  const oneTransaction = async (c: RespConnection): Promise<void> => {
    const op = chooser!.operation();
    switch (op) {
      case 'READ':
        await read(c, keys.get(chooser!.keynum()));
        return;
      case 'UPDATE':
        await update(c, keys.get(chooser!.keynum()));
        return;
      case 'INSERT': {
        const k = chooser!.insertSequence.next();
        try {
          await insert(c, k);
        } finally {
          chooser!.insertSequence.acknowledge(k);
        }
        return;
      }
      case 'SCAN':
        await scan(c, keys.get(chooser!.keynum()));
        return;
      case 'READ-MODIFY-WRITE': {
        const key = keys.get(chooser!.keynum());
        const t0 = performance.now();
        const good = (await read(c, key)) && (await update(c, key));
        record('READ-MODIFY-WRITE', t0, good);
        return;
      }
    }
  };

  // YCSB splits the operation count over threads; a target throughput is split the same way
  const perThread = (i: number) => Math.floor(total / o.threads) + (i < total % o.threads ? 1 : 0);
  const tickMs = o.target > 0 ? (1000 * o.threads) / o.target : 0;
  const start = performance.now();
  let deadlineTimer: NodeJS.Timeout | undefined;
  if (phase === 'run' && o.maxexecutiontime > 0) deadlineTimer = setTimeout(() => (stop = true), o.maxexecutiontime * 1000);
  let lastDone = 0;
  let lastT = start;
  const statusTimer = setInterval(() => {
    const now = performance.now();
    const cur = ((done - lastDone) * 1000) / (now - lastT);
    lastDone = done;
    lastT = now;
    io.status?.(`${new Date().toISOString()} ${Math.round((now - start) / 1000)} sec: ${done} operations; ${cur.toFixed(1)} current ops/sec;`);
  }, 10_000);

  const worker = async (i: number) => {
    const c = conns[i]!;
    const mine = perThread(i);
    const t0 = performance.now();
    for (let n = 0; n < mine && !stop; n++) {
      if (phase === 'load') {
        const k = loadNext++;
        if (k >= loadEnd) break;
        if (!(await insert(c, k))) throw new Error(`insert of record ${k} failed`);
      } else {
        await oneTransaction(c);
      }
      done++;
      if (tickMs > 0) {
        const due = t0 + (n + 1) * tickMs;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
      }
    }
  };

  let failure: unknown;
  try {
    await Promise.all(conns.map((_, i) => worker(i)));
  } catch (err) {
    failure = err;
    stop = true;
  }
  const runtimeMs = performance.now() - start;
  clearInterval(statusTimer);
  if (deadlineTimer) clearTimeout(deadlineTimer);
  io.signal?.removeEventListener('abort', onAbort);
  for (const c of conns) {
    const t = performance.now();
    await c.close();
    m.get('CLEANUP').record((performance.now() - t) * 1000, 'OK');
  }
  gcObserver.disconnect();
  if (failure) throw failure;
  return { text: formatYcsbOutput({ runtimeMs, operationsDone: done, gc: { count: gcCount, timeMs: gcMs }, ops: m.reports() }), operationsDone: done, errors };
}
