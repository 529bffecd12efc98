// A lean Redis (RESP2) connection: commands written as one buffer each, replies parsed in place
// (bulk strings are views into the received chunk, never copied or decoded). One connection is one
// YCSB client thread; keeping the client cheap per operation keeps it from being the bottleneck.
import { Socket, connect } from 'node:net';

export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

export type Reply = string | number | Buffer | null | RedisReplyError | Reply[];

const CR = 13;

/** Index of the next CR at or after `from`, or -1: header lines are a few bytes, a JS loop beats a native call per line. */
function findCR(buf: Buffer, from: number): number {
  for (let i = from, n = buf.length; i < n; i++) if (buf[i] === CR) return i;
  return -1;
}
const NEED_MORE = Symbol('need-more');
type Parsed = { value: Reply; end: number } | typeof NEED_MORE;

function readInt(buf: Buffer, start: number, end: number): number {
  let i = start;
  let neg = false;
  if (buf[i] === 45) {
    neg = true;
    i++;
  }
  let n = 0;
  for (; i < end; i++) n = n * 10 + (buf[i]! - 48);
  return neg ? -n : n;
}

/** Parse one reply at `pos`; NEED_MORE when the buffer ends inside it. */
export function parseReply(buf: Buffer, pos: number): Parsed {
  if (pos >= buf.length) return NEED_MORE;
  const type = buf[pos];
  const lineEnd = findCR(buf, pos + 1);
  if (lineEnd < 0 || lineEnd + 1 >= buf.length) return NEED_MORE;
  const next = lineEnd + 2;
  switch (type) {
    case 43: // +
      return { value: buf.toString('latin1', pos + 1, lineEnd), end: next };
    case 45: // -
      return { value: new RedisReplyError(buf.toString('utf8', pos + 1, lineEnd)), end: next };
    case 58: // :
      return { value: readInt(buf, pos + 1, lineEnd), end: next };
    case 36: {
      // $
      const len = readInt(buf, pos + 1, lineEnd);
      if (len < 0) return { value: null, end: next };
      if (next + len + 2 > buf.length) return NEED_MORE;
      return { value: buf.subarray(next, next + len), end: next + len + 2 };
    }
    case 42: {
      // *
      const count = readInt(buf, pos + 1, lineEnd);
      if (count < 0) return { value: null, end: next };
      const items: Reply[] = new Array(count);
      let p = next;
      for (let i = 0; i < count; i++) {
        const r = parseReply(buf, p);
        if (r === NEED_MORE) return NEED_MORE;
        items[i] = r.value;
        p = r.end;
      }
      return { value: items, end: p };
    }
    default:
      throw new Error(`unexpected byte ${type} in a Redis reply`);
  }
}

/**
 * Like parseReply but without building values: arrays and bulk strings come back as their
 * element count / length (a nil as null). Status and error replies are kept. The hot path of
 * YCSB reads only needs to know that a record came back, not its bytes.
 */
export function skipReply(buf: Buffer, pos: number): Parsed {
  if (pos >= buf.length) return NEED_MORE;
  const type = buf[pos];
  const lineEnd = findCR(buf, pos + 1);
  if (lineEnd < 0 || lineEnd + 1 >= buf.length) return NEED_MORE;
  const next = lineEnd + 2;
  switch (type) {
    case 36: {
      const len = readInt(buf, pos + 1, lineEnd);
      if (len < 0) return { value: null, end: next };
      if (next + len + 2 > buf.length) return NEED_MORE;
      return { value: len, end: next + len + 2 };
    }
    case 42: {
      const count = readInt(buf, pos + 1, lineEnd);
      if (count < 0) return { value: null, end: next };
      let p = next;
      for (let i = 0; i < count; i++) {
        const r = skipReply(buf, p);
        if (r === NEED_MORE) return NEED_MORE;
        p = r.end;
      }
      return { value: count, end: p };
    }
    default:
      return parseReply(buf, pos);
  }
}

/** Decimal digits of a non-negative integer written at p; returns the new position. */
function writeUInt(out: Buffer, p: number, n: number): number {
  if (n < 10) {
    out[p] = 48 + n;
    return p + 1;
  }
  const start = p;
  while (n > 0) {
    out[p++] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  out.subarray(start, p).reverse();
  return p;
}

const digits = (n: number) => (n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : String(n).length);

/** The RESP encoding of one command (ASCII strings copied in JS: a native call per argument costs more). */
export function encodeCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  let size = 1 + digits(args.length) + 2;
  const lens = new Array<number>(args.length);
  let ascii = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let l: number;
    if (typeof a === 'string') {
      l = a.length;
      for (let k = 0; k < l && ascii; k++) if (a.charCodeAt(k) > 127) ascii = false;
      if (!ascii) l = Buffer.byteLength(a);
    } else l = a.length;
    lens[i] = l;
    size += 1 + digits(l) + 2 + l + 2;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 42; // *
  let p = writeUInt(out, 1, args.length);
  out[p++] = 13;
  out[p++] = 10;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const l = lens[i]!;
    out[p++] = 36; // $
    p = writeUInt(out, p, l);
    out[p++] = 13;
    out[p++] = 10;
    if (typeof a !== 'string') p += a.copy(out, p);
    else if (ascii) for (let k = 0; k < l; k++) out[p++] = a.charCodeAt(k);
    else p += out.write(a, p);
    out[p++] = 13;
    out[p++] = 10;
  }
  return out;
}

/** Called once with the reply, or with the connection's failure. */
export type ReplyCallback = (err: Error | undefined, reply: Reply) => void;

/** Size of the buffer the socket reads into (reused for every read: no allocation per reply). */
const READ_BUFFER = 64 * 1024;

export class RespConnection {
  // the requests in flight, oldest first: callbacks and whether to build the reply's values
  private cbs: ReplyCallback[] = [];
  private fulls: boolean[] = [];
  private head = 0;
  private rest: Buffer | undefined;
  private failure: Error | undefined;
  private socket!: Socket;

  private constructor(readonly where: string) {}

  static connect(host: string, port: number, timeoutMs = 5000): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const conn = new RespConnection(`${host}:${port}`);
      // onread: the socket reads into one buffer of ours instead of a new Buffer per 'data' event
      const socket = connect({ host, port, onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n: number, buf: Uint8Array) => conn.onRead(buf as Buffer, n) } });
      conn.socket = socket;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`redis ${host}:${port}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        socket.on('error', (err) => conn.fail(new Error(`redis ${conn.where}: ${err.message}`)));
        socket.on('close', () => conn.fail(new Error(`redis ${conn.where}: connection closed`)));
        resolve(conn);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`redis ${host}:${port}: ${err.message}`));
      });
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const waiting = this.cbs.slice(this.head);
    this.cbs = [];
    this.fulls = [];
    this.head = 0;
    for (const cb of waiting) cb(err, null);
  }

  private onRead(readBuf: Buffer, n: number): boolean {
    // the read buffer is reused by the next read: replies whose values are kept (full) and any
    // unparsed remainder must be copied out of it
    let anyFull = false;
    for (let i = this.head; i < this.fulls.length; i++) if (this.fulls[i]) anyFull = true;
    let buf: Buffer;
    if (this.rest) buf = Buffer.concat([this.rest, readBuf.subarray(0, n)]);
    else buf = anyFull ? Buffer.from(readBuf.subarray(0, n)) : readBuf.subarray(0, n);
    let pos = 0;
    for (;;) {
      const cb = this.cbs[this.head];
      if (!cb) {
        if (pos < buf.length) {
          this.fail(new Error(`redis ${this.where}: a reply arrived that nobody asked for`));
          this.socket.destroy();
          return false;
        }
        break;
      }
      const r = this.fulls[this.head] ? parseReply(buf, pos) : skipReply(buf, pos);
      if (r === NEED_MORE) break;
      pos = r.end;
      this.cbs[this.head] = undefined as unknown as ReplyCallback;
      this.head++;
      cb(undefined, r.value);
    }
    if (this.head === this.cbs.length) {
      // all answered (the usual case: one request in flight): reuse the arrays from the start
      this.cbs.length = 0;
      this.fulls.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.cbs = this.cbs.slice(this.head);
      this.fulls = this.fulls.slice(this.head);
      this.head = 0;
    }
    this.rest = pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined;
    return true;
  }

  /**
   * Write an encoded command; `cb` gets the reply (a Redis error reply as a RedisReplyError value)
   * or the connection's failure. `full` false: the reply's shape only (see skipReply). The hot path:
   * no promise and no allocation besides the command's buffer.
   */
  send(encoded: Buffer, full: boolean, cb: ReplyCallback): void {
    if (this.failure) {
      const err = this.failure;
      queueMicrotask(() => cb(err, null));
      return;
    }
    this.cbs.push(cb);
    this.fulls.push(full);
    this.socket.write(encoded);
  }

  /** Send one command; the reply (a Redis error reply resolves as a RedisReplyError value). */
  command(args: ReadonlyArray<string | Buffer>): Promise<Reply> {
    return this.raw(encodeCommand(args), true);
  }

  /** Write an encoded command and wait for its reply; `full` false: the reply's shape only. */
  raw(encoded: Buffer, full = true): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => this.send(encoded, full, (err, r) => (err ? reject(err) : resolve(r))));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2000).unref();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** PING until it answers PONG or the deadline passes; the last failure explains why not. */
export async function waitForRedis(host: string, port: number, timeoutMs: number, signal?: AbortSignal, pollMs = 200): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no attempt';
  while (Date.now() < until) {
    if (signal?.aborted) throw new Error('aborted while waiting for redis');
    try {
      const c = await RespConnection.connect(host, port, 1000);
      try {
        const r = await c.command(['PING']);
        if (r === 'PONG') return;
        last = `PING answered ${String(r)}`;
      } finally {
        c.destroy();
      }
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`redis-server at ${host}:${port} did not become ready within ${Math.round(timeoutMs / 1000)} s (${last})`);
}
