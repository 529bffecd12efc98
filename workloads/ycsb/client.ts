// The harness's own YCSB client for Redis: YCSB's load and run phases with the core workloads'
// semantics, records stored as YCSB's Redis binding stores them (one hash per record, plus the
// "_indices" sorted set scored by the key's Java hashCode for scans), latencies in HDR histograms,
// output in YCSB's text format. "threads" are connections, each with one request in flight (no
// pipelining). As Java YCSB's threads use every core, the connections are spread over worker
// threads (one event loop each, one per CPU but one) so that one JavaScript thread never limits
// what Redis is asked.
import { availableParallelism } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { CORE_WORKLOADS, KeyNames, RunChooser, fieldNames, validateOptions, type Operation, type YcsbOptions } from './core-workload.ts';
import { javaStringHash, seededRandom, type Random } from './generators.ts';
import { formatStatusLine, formatYcsbOutput, type IntervalBlock, type OperationReport } from './output.ts';
import { RedisReplyError, RespConnection, encodeCommand, type Reply } from './resp.ts';

export const INDEX_KEY = '_indices';
const PERCENTILES = [95, 99];

const hist = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

/**
 * One operation's latencies. Values go into the interval histogram (what a status line reports)
 * and are folded into the total at each status snapshot: one histogram write per operation.
 * Latencies are whole microseconds truncated, as YCSB divides its nanosecond timer by 1000.
 */
class Measurement {
  readonly total = hist();
  readonly interval = hist();
  min = Infinity;
  intervalMin = Infinity;
  /** Operations with status OK (counted apart from `returns`: the hot path does no map update). */
  ok = 0;
  readonly returns = new Map<string, number>();
  /** YCSB reports Return= lines for operations, not for CLEANUP. */
  constructor(readonly reportsReturns = true) {}
  recordOk(us: number): void {
    const v = us > 0 ? Math.floor(us) : 0;
    this.interval.recordValue(v);
    if (v < this.intervalMin) this.intervalMin = v;
    this.ok++;
  }
  record(us: number, status: string): void {
    if (status === 'OK') return this.recordOk(us);
    const v = us > 0 ? Math.floor(us) : 0;
    this.interval.recordValue(v);
    if (v < this.intervalMin) this.intervalMin = v;
    this.countStatus(status);
  }
  countStatus(status: string): void {
    if (status === 'OK') this.ok++;
    else this.returns.set(status, (this.returns.get(status) ?? 0) + 1);
  }
  /** The interval since the last snapshot (plain data), folded into the total; undefined when empty. */
  takeInterval(): ExportedInterval | undefined {
    const h = this.interval;
    if (h.totalCount === 0) return undefined;
    const out = { histogram: hdr.encodeIntoCompressedBase64(h), min: this.intervalMin };
    this.total.add(h);
    if (this.intervalMin < this.min) this.min = this.intervalMin;
    h.reset();
    this.intervalMin = Infinity;
    return out;
  }
  /** Plain data for another thread (the interval folded in first); merged back with `absorb`. */
  export(): ExportedMeasurement {
    this.takeInterval();
    return { histogram: hdr.encodeIntoCompressedBase64(this.total), min: this.min, returns: this.returnList(), reportsReturns: this.reportsReturns };
  }
  absorb(e: ExportedMeasurement): void {
    this.total.add(hdr.decodeFromCompressedBase64(e.histogram));
    if (e.min < this.min) this.min = e.min;
    for (const [k, n] of e.returns) {
      if (k === 'OK') this.ok += n;
      else this.returns.set(k, (this.returns.get(k) ?? 0) + n);
    }
  }
  absorbInterval(e: ExportedInterval): void {
    this.interval.add(hdr.decodeFromCompressedBase64(e.histogram));
    if (e.min < this.intervalMin) this.intervalMin = e.min;
  }
  private returnList(): Array<[string, number]> {
    return [...(this.ok > 0 ? ([['OK', this.ok]] as Array<[string, number]>) : []), ...this.returns];
  }
  report(name: string): OperationReport {
    this.takeInterval();
    const h = this.total;
    return {
      name,
      operations: h.totalCount,
      averageUs: h.mean,
      minUs: Number.isFinite(this.min) ? this.min : 0,
      maxUs: h.maxValue,
      percentiles: PERCENTILES.map((p) => [p, h.getValueAtPercentile(p)]),
      returns: this.reportsReturns ? this.returnList() : [],
    };
  }
  /** The status line block of the interval (absorbed from the shares), then cleared. */
  intervalBlock(name: string): IntervalBlock | undefined {
    const h = this.interval;
    if (h.totalCount === 0) return undefined;
    const b = { name, count: h.totalCount, maxUs: h.maxValue, minUs: Number.isFinite(this.intervalMin) ? this.intervalMin : 0, avgUs: h.mean, p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), p9999: h.getValueAtPercentile(99.99) };
    h.reset();
    this.intervalMin = Infinity;
    return b;
  }
}

interface ExportedMeasurement {
  histogram: string;
  min: number;
  returns: Array<[string, number]>;
  reportsReturns: boolean;
}

interface ExportedInterval {
  histogram: string;
  min: number;
}

const ORDER = ['READ', 'UPDATE', 'INSERT', 'SCAN', 'READ-MODIFY-WRITE', 'CLEANUP'];

class Measurements {
  private readonly byName = new Map<string, Measurement>();
  constructor(private readonly order: string[] = ORDER) {}
  export(): Array<[string, ExportedMeasurement]> {
    return [...this.byName].map(([n, m]) => [n, m.export()]);
  }
  /** Every operation's interval since the last call, folded into its total. */
  takeIntervals(): Array<[string, ExportedInterval]> {
    const out: Array<[string, ExportedInterval]> = [];
    for (const [n, m] of this.byName) {
      const e = m.takeInterval();
      if (e) out.push([n, e]);
    }
    return out;
  }
  get(name: string): Measurement {
    let m = this.byName.get(name);
    if (!m) this.byName.set(name, (m = new Measurement(name !== 'CLEANUP')));
    return m;
  }
  private names(): string[] {
    return [...this.byName.keys()].sort((a, b) => rank(a, this.order) - rank(b, this.order) || a.localeCompare(b));
  }
  reports(): OperationReport[] {
    return this.names().map((n) => this.byName.get(n)!.report(n));
  }
  intervalBlocks(): IntervalBlock[] {
    return this.names().flatMap((n) => this.byName.get(n)!.intervalBlock(n) ?? []);
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
  /** Client threads (event loops) to spread the connections over; default: one per host CPU but one, at most one per connection. */
  workers?: number;
}

/** The part of a phase one event loop runs: its connections, operations, load range and target. */
export interface Share {
  threads: number;
  operations: number;
  /** Load phase: this share inserts key numbers loadFrom..loadTo-1. */
  loadFrom: number;
  loadTo: number;
  target: number;
  seed: number;
}

/** What one share measured, as plain data (it may come from a worker thread). */
export interface ShareOutcome {
  runtimeMs: number;
  operationsDone: number;
  errors: number;
  gc: { count: number; timeMs: number };
  ops: Array<[string, ExportedMeasurement]>;
  /** Latencies since the last progress report, for the final status line. */
  lastInterval: Array<[string, ExportedInterval]>;
}

interface ShareIo {
  signal?: AbortSignal;
  /** Called once the connections are open; the timed part starts when it resolves (a barrier across workers). */
  ready?: () => Promise<void>;
  /** Every second: operations done so far, and each operation's latencies since the last call. */
  progress?: (done: number, intervals: Array<[string, ExportedInterval]>) => void;
}

/** Split a phase over n event loops: connections, operations and the load range as even as they go. */
export function splitShares(phase: 'load' | 'run', o: YcsbOptions, n: number): Share[] {
  const parts = Math.max(1, Math.min(n, o.threads));
  const even = (total: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0);
  const shares: Share[] = [];
  let from = o.insertstart;
  for (let i = 0; i < parts; i++) {
    const threads = even(o.threads, i);
    const loads = phase === 'load' ? even(o.recordcount - o.insertstart, i) : 0;
    shares.push({ threads, operations: phase === 'load' ? loads : even(o.operationcount, i), loadFrom: from, loadTo: from + loads, target: (o.target * threads) / o.threads, seed: o.seed * 7919 + i * 104729 + (phase === 'load' ? 1 : 2) });
    from += loads;
  }
  return shares;
}

/** Event loops a phase may use: inserts of the run phase (workloads D, E) share one key sequence, so they stay on one. */
// One CPU is left to the server and the system: on a 2-core host two client threads beside
// redis-server slowed the client down (three busy threads on two cores), and one event loop
// carries 8 connections at redis-server's pace here.
export function workerCount(phase: 'load' | 'run', o: YcsbOptions, wanted = Math.max(1, availableParallelism() - 1)): number {
  const w = CORE_WORKLOADS[o.workload];
  if (phase === 'run' && w && w.insert > 0) return 1;
  return Math.max(1, Math.min(wanted, o.threads));
}

export interface PhaseOutcome {
  text: string;
  operationsDone: number;
  errors: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One event loop's part of a phase (in this thread); see runPhase. */
export async function runShare(phase: 'load' | 'run', o: YcsbOptions, host: string, port: number, share: Share, io: ShareIo = {}): Promise<ShareOutcome> {
  const random = seededRandom(share.seed);
  const pool = valuePool(random, 1 << 20);
  const fields = fieldNames(o.fieldcount);
  const keys = new KeyNames();
  const value = () => {
    const off = Math.floor(random() * (pool.length - o.fieldlength));
    return pool.subarray(off, off + o.fieldlength);
  };
  const m = new Measurements();
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
    for (let i = 0; i < share.threads; i++) conns.push(await RespConnection.connect(host, port));
  } catch (err) {
    for (const c of conns) c.destroy();
    gcObserver.disconnect();
    throw err;
  }

  let stop = false;
  let done = 0;
  let errors = 0;
  let loadNext = share.loadFrom;
  const loadEnd = share.loadTo;
  const total = share.operations;
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
      m.get(name).countStatus('ERROR');
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

  /** The operations other than READ and UPDATE (scans, inserts, read-modify-write): promise-based, rarer. */
  const otherTransaction = async (c: RespConnection, op: Operation): Promise<void> => {
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

  // The hot path of the run phase: READ (HGETALL) and UPDATE (HMSET of one field) as callbacks on
  // the connection, with no promise or closure per operation, and each key's HGETALL encoded once.
  const readM = m.get('READ');
  const updateM = m.get('UPDATE');
  const hgetall: Buffer[] = [];
  const HGETALL_CACHE = 1 << 18;
  const hgetallOf = (keynum: number): Buffer => {
    let b = hgetall[keynum];
    if (b === undefined) {
      b = encodeCommand(['HGETALL', keys.get(keynum)]);
      if (keynum < HGETALL_CACHE) hgetall[keynum] = b;
    }
    return b;
  };

  // HMSET key field value, assembled from pieces encoded once: the key's part is the tail of its
  // cached HGETALL command, each field's part is fixed; only the value is new each time
  const HMSET_HEAD = Buffer.from('*4\r\n$5\r\nHMSET\r\n', 'latin1');
  const HGETALL_HEAD = Buffer.byteLength('*2\r\n$7\r\nHGETALL\r\n');
  const fieldParts = fields.map((f) => Buffer.from(`$${Buffer.byteLength(f)}\r\n${f}\r\n`, 'utf8'));
  const valueHead = Buffer.from(`$${o.fieldlength}\r\n`, 'latin1');
  const hmsetOf = (keynum: number, field: number): Buffer => {
    const keyPart = hgetallOf(keynum).subarray(HGETALL_HEAD);
    const fp = fieldParts[field]!;
    const out = Buffer.allocUnsafe(HMSET_HEAD.length + keyPart.length + fp.length + valueHead.length + o.fieldlength + 2);
    let p = HMSET_HEAD.copy(out, 0);
    p += keyPart.copy(out, p);
    p += fp.copy(out, p);
    p += valueHead.copy(out, p);
    const off = Math.floor(random() * (pool.length - o.fieldlength));
    p += pool.copy(out, p, off, off + o.fieldlength);
    out[p] = 13;
    out[p + 1] = 10;
    return out;
  };

  // YCSB splits the operation count over threads; a target throughput is split the same way
  const perThread = (i: number) => Math.floor(total / share.threads) + (i < total % share.threads ? 1 : 0);
  const tickMs = share.target > 0 ? (1000 * share.threads) / share.target : 0;
  try {
    await io.ready?.();
  } catch (err) {
    for (const c of conns) c.destroy();
    gcObserver.disconnect();
    throw err;
  }
  const start = performance.now();
  let deadlineTimer: NodeJS.Timeout | undefined;
  // YCSB's maxexecutiontime bounds the load phase as well as the run phase
  if (o.maxexecutiontime > 0) deadlineTimer = setTimeout(() => (stop = true), o.maxexecutiontime * 1000);
  const progressTimer = io.progress ? setInterval(() => io.progress!(done, m.takeIntervals()), 1000) : undefined;

  /** One connection's loop of the load phase (promise-based: a load is not what is measured). */
  const loader = async (i: number) => {
    const c = conns[i]!;
    const mine = perThread(i);
    const t0 = performance.now();
    for (let n = 0; n < mine && !stop; n++) {
      const k = loadNext++;
      if (k >= loadEnd) break;
      if (!(await insert(c, k))) throw new Error(`insert of record ${k} failed`);
      done++;
      if (tickMs > 0) {
        const due = t0 + (n + 1) * tickMs;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
      }
    }
  };

  /** One connection's loop of the run phase, driven by reply callbacks; resolves when it stops. */
  const runner = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const c = conns[i]!;
      const mine = perThread(i);
      const t0 = performance.now();
      let n = 0;
      let opStart = 0;
      let isRead = true;
      const failed = (err: unknown) => {
        stop = true;
        reject(err);
      };
      const onReply = (err: Error | undefined, r: Reply) => {
        if (err) return failed(err);
        const us = (performance.now() - opStart) * 1000;
        if (isRead) {
          if (typeof r === 'number' && r > 0) readM.recordOk(us);
          else record('READ', opStart, false);
        } else if (r === 'OK') updateM.recordOk(us);
        else record('UPDATE', opStart, false);
        after();
      };
      const after = () => {
        done++;
        if (tickMs > 0) {
          const wait = t0 + n * tickMs - performance.now();
          if (wait > 1) {
            setTimeout(next, wait);
            return;
          }
        }
        next();
      };
      const next = () => {
        if (stop || n >= mine) return resolve();
        n++;
        const op = chooser!.operation();
        if (op === 'READ') {
          isRead = true;
          opStart = performance.now();
          c.send(hgetallOf(chooser!.keynum()), false, onReply);
        } else if (op === 'UPDATE') {
          isRead = false;
          opStart = performance.now();
          c.send(hmsetOf(chooser!.keynum(), chooser!.field()), false, onReply);
        } else {
          otherTransaction(c, op).then(after, failed);
        }
      };
      next();
    });

  let failure: unknown;
  try {
    await Promise.all(conns.map((_, i) => (phase === 'load' ? loader(i) : runner(i))));
  } catch (err) {
    failure = err;
    stop = true;
  }
  if (progressTimer) clearInterval(progressTimer);
  if (deadlineTimer) clearTimeout(deadlineTimer);
  io.signal?.removeEventListener('abort', onAbort);
  for (const c of conns) {
    const t = performance.now();
    await c.close();
    m.get('CLEANUP').recordOk((performance.now() - t) * 1000);
  }
  // RunTime, the same way in both paths (one event loop or workers): from the start of the
  // operations (every connection open) until this share's connections are closed, as YCSB's
  // RunTime includes its threads' cleanup. The phase's RunTime is the longest share's.
  const runtimeMs = performance.now() - start;
  gcObserver.disconnect();
  if (failure) throw failure;
  // the intervals not yet reported go to the final status line, before export folds them in
  const lastInterval = m.takeIntervals();
  return { runtimeMs, operationsDone: done, errors, gc: { count: gcCount, timeMs: gcMs }, ops: m.export(), lastInterval };
}

const WORKER = new URL('./worker.ts', import.meta.url).href;
// a worker thread does not inherit the parent's TypeScript loader: register tsx's in it first
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(WORKER)}); })`;

/** Run shares in worker threads, started together once all are connected. */
async function runInWorkers(phase: 'load' | 'run', o: YcsbOptions, host: string, port: number, shares: Share[], io: ClientIo, onProgress: (i: number, done: number, intervals: Array<[string, ExportedInterval]>) => void): Promise<ShareOutcome[]> {
  const workers = shares.map((share) => new Worker(WORKER_BOOT, { eval: true, workerData: { phase, o, host, port, share } }));
  const stopAll = () => workers.forEach((w) => w.postMessage('stop'));
  io.signal?.addEventListener('abort', stopAll, { once: true });
  let readyCount = 0;
  try {
    return await Promise.all(
      workers.map(
        (w, i) =>
          new Promise<ShareOutcome>((resolve, reject) => {
            w.on('message', (msg: { type: string; outcome?: ShareOutcome; message?: string; done?: number; intervals?: Array<[string, ExportedInterval]> }) => {
              if (msg.type === 'ready' && ++readyCount === workers.length) workers.forEach((x) => x.postMessage('go'));
              else if (msg.type === 'progress') onProgress(i, msg.done ?? 0, msg.intervals ?? []);
              else if (msg.type === 'result') resolve(msg.outcome!);
              else if (msg.type === 'error') {
                stopAll();
                reject(new Error(msg.message));
              }
            });
            w.on('error', (err) => {
              stopAll();
              reject(err);
            });
            w.on('exit', (code) => reject(new Error(`YCSB client worker ${i} exited ${code} before reporting`)));
          }),
      ),
    );
  } finally {
    io.signal?.removeEventListener('abort', stopAll);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Status lines every 10 s and at the end, with each operation's block of the interval (YCSB's -s). */
class StatusReporter {
  private readonly intervals = new Measurements();
  private readonly done: number[];
  private readonly t0 = performance.now();
  private last = { done: 0, t: this.t0 };
  private readonly timer: NodeJS.Timeout | undefined;
  constructor(
    shares: number,
    private readonly total: number,
    private readonly out?: (line: string) => void,
  ) {
    this.done = new Array<number>(shares).fill(0);
    if (out) this.timer = setInterval(() => this.line(), 10_000);
  }
  progress(i: number, done: number, intervals: Array<[string, ExportedInterval]>): void {
    this.done[i] = done;
    if (this.out) for (const [name, e] of intervals) this.intervals.get(name).absorbInterval(e);
  }
  line(): void {
    if (!this.out) return;
    const now = performance.now();
    const done = this.done.reduce((a, b) => a + b, 0);
    const current = now > this.last.t ? ((done - this.last.done) * 1000) / (now - this.last.t) : 0;
    this.out(formatStatusLine({ now: new Date(), elapsedMs: now - this.t0, operations: done, currentOpsPerSec: current, todo: Math.max(0, this.total - done), blocks: this.intervals.intervalBlocks() }));
    this.last = { done, t: now };
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** Run YCSB's load ('load') or transaction ('run') phase against one Redis server; returns YCSB text. */
export async function runPhase(phase: 'load' | 'run', o: YcsbOptions, host: string, port: number, io: ClientIo = {}): Promise<PhaseOutcome> {
  const problems = validateOptions(o);
  if (problems.length) throw new Error(problems.join('; '));
  const shares = splitShares(phase, o, workerCount(phase, o, io.workers));
  const total = shares.reduce((a, x) => a + x.operations, 0);
  const status = new StatusReporter(shares.length, total, io.status);
  try {
    let outcomes: ShareOutcome[];
    if (shares.length === 1) {
      outcomes = [await runShare(phase, o, host, port, shares[0]!, { signal: io.signal, progress: (d, iv) => status.progress(0, d, iv) })];
    } else {
      outcomes = await runInWorkers(phase, o, host, port, shares, io, (i, d, iv) => status.progress(i, d, iv));
    }
    // both paths alike: each share times its operations and cleanup; the phase took the longest
    const runtimeMs = Math.max(...outcomes.map((x) => x.runtimeMs));
    const m = new Measurements();
    for (const out of outcomes) for (const [name, e] of out.ops) m.get(name).absorb(e);
    const operationsDone = outcomes.reduce((a, x) => a + x.operationsDone, 0);
    outcomes.forEach((x, i) => status.progress(i, x.operationsDone, x.lastInterval));
    status.line();
    const gc = { count: outcomes.reduce((a, x) => a + x.gc.count, 0), timeMs: outcomes.reduce((a, x) => a + x.gc.timeMs, 0) };
    return { text: formatYcsbOutput({ runtimeMs, operationsDone, gc, ops: m.reports() }), operationsDone, errors: outcomes.reduce((a, x) => a + x.errors, 0) };
  } finally {
    status.stop();
  }
}
