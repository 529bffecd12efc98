// Host side of the guest agent (drivers/vm-guest/agent.pl): one Unix socket per VM, QEMU's end
// of a virtio-serial port, carrying framed messages so that many commands run at once, each with
// its own stdin, stdout, stderr, exit status and kill. Frame: type (1 byte), id (u32 BE),
// length (u32 BE), payload.
import { createConnection, type Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';

export const HEADER = 9;

export interface Frame {
  type: string;
  id: number;
  payload: Buffer;
}

export function encodeFrame(type: string, id: number, payload: Buffer | string = ''): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(HEADER);
  head.write(type, 0, 1, 'latin1');
  head.writeUInt32BE(id >>> 0, 1);
  head.writeUInt32BE(body.length, 5);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; keeps a partial frame until the rest arrives. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32BE(5);
      if (this.buf.length < HEADER + len) break;
      out.push({ type: this.buf.toString('latin1', 0, 1), id: this.buf.readUInt32BE(1), payload: this.buf.subarray(HEADER, HEADER + len) });
      this.buf = this.buf.subarray(HEADER + len);
    }
    return out;
  }
}

/** "exit 3" -> 3; "signal 9" -> 137 (the shell's convention). */
export function parseExit(text: string): { exitCode: number; signal?: number } {
  const m = text.match(/^(exit|signal) (\d+)$/);
  if (!m) return { exitCode: -1 };
  const n = Number(m[2]);
  return m[1] === 'exit' ? { exitCode: n } : { exitCode: 128 + n, signal: n };
}

export function signalNumber(sig: NodeJS.Signals | number): number {
  if (typeof sig === 'number') return sig;
  const n = constants.signals[sig];
  if (n === undefined) throw new Error(`unknown signal ${sig}`);
  return n;
}

export interface AgentExit {
  exitCode: number;
  signal?: number;
  stdout: Buffer;
  stderr: Buffer;
  /** Set when the guest went away before the command ended. */
  lost?: string;
}

export interface AgentExecOptions {
  stdin?: Buffer | string | Readable;
  /** Stream output instead of collecting it. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface AgentCommand {
  readonly id: number;
  /** Guest pid of the command's bash, once started. */
  readonly pid: number | undefined;
  readonly done: Promise<AgentExit>;
  kill(signal?: NodeJS.Signals | number): void;
}

interface Pending {
  out: Buffer[];
  err: Buffer[];
  opts: AgentExecOptions;
  pid?: number;
  resolve: (e: AgentExit) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connect to a Unix socket that may not exist yet; `check` throws to give up. */
async function openSocket(path: string, check: () => void): Promise<Socket> {
  for (;;) {
    check();
    const sock = await new Promise<Socket | undefined>((resolve) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(s));
      s.once('error', () => {
        s.destroy();
        resolve(undefined);
      });
    });
    if (sock) return sock;
    await sleep(50);
  }
}

export class AgentConnection {
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly killWaiters = new Map<number, (ok: boolean) => void>();
  private nextId = 1;
  private lostReason?: string;
  private helloWaiter?: (uptime: number) => void;

  private sock!: Socket;
  /** While set, writes wait here instead of going to QEMU (a migration is moving the guest: hold()). */
  private held?: Buffer[];
  /** Set by moveTo(): the old socket's close is expected. */
  private moving = false;

  private constructor(sock: Socket, firstId = 1) {
    this.nextId = firstId;
    this.attach(sock);
  }

  private attach(sock: Socket): void {
    this.sock = sock;
    sock.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) this.onFrame(f);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.sock === sock && !this.moving) this.lose('the guest agent connection closed (guest stopped?)');
    });
  }

  /** The id the next command gets: a connection to a copy of this guest (clone, restore) starts above it, so that ids never collide with the copied agent's commands. */
  get idWatermark(): number {
    return this.nextId;
  }

  /**
   * Connect to QEMU's socket and wait until the agent answers. `dead()` returns why the VM cannot
   * answer any more (QEMU exited, a boot failure on the console), which ends the wait at once.
   */
  static async connect(path: string, o: { timeoutMs: number; dead: () => string | undefined; signal?: AbortSignal; firstId?: number }): Promise<{ agent: AgentConnection; guestUptime: number }> {
    const deadline = Date.now() + o.timeoutMs;
    const check = () => {
      if (o.signal?.aborted) throw new Error('aborted while waiting for the guest');
      const why = o.dead();
      if (why) throw new Error(why);
      if (Date.now() > deadline) throw new Error(`the guest did not become ready within ${(o.timeoutMs / 1000).toFixed(0)} s`);
    };
    const sock = await openSocket(path, check);
    const agent = new AgentConnection(sock, o.firstId);
    const hello = new Promise<number>((resolve) => (agent.helloWaiter = resolve));
    let uptime: number | undefined;
    void hello.then((u) => (uptime = u));
    try {
      while (uptime === undefined) {
        check();
        if (agent.lostReason) {
          // the socket closes as QEMU exits: give its exit a moment to say why
          for (let i = 0; i < 20 && !o.dead(); i++) await sleep(100);
          throw new Error(o.dead() ?? agent.lostReason);
        }
        sock.write(encodeFrame('P', 0));
        await Promise.race([hello, sleep(250)]);
      }
    } catch (err) {
      agent.close();
      throw err;
    }
    return { agent, guestUptime: uptime };
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  private onFrame(f: Frame): void {
    if (f.type === 'H') {
      this.helloWaiter?.(Number(f.payload.toString()) || 0);
      this.helloWaiter = undefined;
      return;
    }
    if (f.type === 'a') {
      this.killWaiters.get(f.id)?.(f.payload.toString() === 'ok');
      this.killWaiters.delete(f.id);
      return;
    }
    const p = this.pending.get(f.id);
    if (!p) return;
    switch (f.type) {
      case 'S':
        p.pid = Number(f.payload.toString());
        break;
      case 'O':
        if (p.opts.onStdout) p.opts.onStdout(Buffer.from(f.payload));
        else p.out.push(Buffer.from(f.payload));
        break;
      case 'R':
        if (p.opts.onStderr) p.opts.onStderr(Buffer.from(f.payload));
        else p.err.push(Buffer.from(f.payload));
        break;
      case 'Z':
        this.pending.delete(f.id);
        p.resolve({ ...parseExit(f.payload.toString()), stdout: Buffer.concat(p.out), stderr: Buffer.concat(p.err) });
        break;
      case 'F':
        this.pending.delete(f.id);
        p.resolve({ exitCode: -1, stdout: Buffer.alloc(0), stderr: Buffer.from(`agent could not start the command: ${f.payload.toString()}`) });
        break;
    }
  }

  private lose(reason: string): void {
    if (this.lostReason) return;
    this.lostReason = reason;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      const err = Buffer.concat([...p.err, Buffer.from(`\n${reason}\n`)]);
      p.resolve({ exitCode: -1, stdout: Buffer.concat(p.out), stderr: err, lost: reason });
    }
    for (const w of this.killWaiters.values()) w(false);
    this.killWaiters.clear();
  }

  private send(type: string, id: number, payload?: Buffer | string): boolean {
    if (this.lostReason) return true;
    if (this.held) {
      this.held.push(encodeFrame(type, id, payload));
      return true;
    }
    return this.sock.write(encodeFrame(type, id, payload));
  }

  /**
   * Before a migration: from now on the host's frames wait on the host (release() sends them), and
   * this resolves once the agent has read every frame sent before (it answered a ping), so that
   * nothing the host sent is lost in a QEMU that goes away. The guest's output keeps flowing.
   */
  async hold(timeoutMs = 30_000): Promise<void> {
    if (this.lostReason) throw new Error(this.lostReason);
    this.held ??= [];
    const hello = new Promise<number>((resolve) => (this.helloWaiter = resolve));
    this.sock.write(encodeFrame('P', 0));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([hello, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the guest agent did not answer within ${timeoutMs / 1000} s`)), timeoutMs)))]);
    } catch (err) {
      this.release();
      throw err;
    } finally {
      clearTimeout(timer);
      this.helloWaiter = undefined;
    }
  }

  /** Send what waited during hold() and write directly again. */
  release(): void {
    const frames = this.held ?? [];
    this.held = undefined;
    if (this.lostReason) return;
    for (const f of frames) this.sock.write(f);
  }

  /**
   * After a migration: the old QEMU is being killed; once its socket has delivered everything the
   * old QEMU wrote (its end), carry on over the new QEMU's socket with the same commands, ids and
   * partial frame: the guest's byte stream continues there (its unsent output migrated with it).
   */
  async moveTo(path: string, o: { timeoutMs: number; dead: () => string | undefined }): Promise<void> {
    const old = this.sock;
    this.moving = true;
    if (!old.destroyed) await new Promise<void>((resolve) => old.once('close', () => resolve()));
    const deadline = Date.now() + o.timeoutMs;
    let sock: Socket;
    try {
      sock = await openSocket(path, () => {
        const why = o.dead();
        if (why) throw new Error(why);
        if (Date.now() > deadline) throw new Error(`the destination's agent socket did not accept within ${(o.timeoutMs / 1000).toFixed(0)} s`);
      });
    } catch (err) {
      this.moving = false;
      this.lose(`the guest agent could not follow the migration: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    this.moving = false;
    this.attach(sock);
    this.release();
  }

  /** Run `bash -c script` in the guest, in a cgroup of its own. */
  exec(script: string, opts: AgentExecOptions = {}): AgentCommand {
    const id = this.nextId++;
    const withStdin = opts.stdin !== undefined;
    let entry!: Pending;
    const done = new Promise<AgentExit>((resolve) => {
      entry = { out: [], err: [], opts, resolve };
    });
    if (this.lostReason) {
      entry.resolve({ exitCode: -1, stdout: Buffer.alloc(0), stderr: Buffer.from(this.lostReason), lost: this.lostReason });
    } else {
      this.pending.set(id, entry);
      this.send('X', id, `${withStdin ? 'i' : '-'}\n${script}`);
      if (withStdin) void this.feed(id, opts.stdin!);
    }
    const self = this;
    return {
      id,
      get pid() {
        return entry.pid;
      },
      done,
      kill(signal: NodeJS.Signals | number = 'SIGTERM') {
        if (self.pending.has(id)) self.send('K', id, String(signalNumber(signal)));
      },
    };
  }

  private async feed(id: number, input: Buffer | string | Readable): Promise<void> {
    const CHUNK = 64 * 1024;
    const write = async (b: Buffer) => {
      for (let i = 0; i < b.length; i += CHUNK) {
        if (!this.pending.has(id)) return;
        if (!this.send('I', id, b.subarray(i, i + CHUNK))) await new Promise((r) => this.sock.once('drain', r));
      }
    };
    try {
      if (typeof input === 'string' || Buffer.isBuffer(input)) await write(Buffer.from(input));
      else for await (const chunk of input) await write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    } finally {
      if (this.pending.has(id)) this.send('E', id);
    }
  }

  /** Kill every command's processes (cgroup.kill of the agent's tree); resolves once they are gone. */
  async killAll(timeoutMs = 15_000): Promise<void> {
    if (this.lostReason) return;
    const id = this.nextId++;
    const ok = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.killWaiters.set(id, resolve);
        this.send('A', id);
      }),
      sleep(timeoutMs).then(() => false),
    ]);
    this.killWaiters.delete(id);
    if (!ok && !this.lostReason) throw new Error('the guest agent could not kill every process within its timeout');
  }

  close(): void {
    this.sock.destroy();
    this.lose('the guest agent connection was closed');
  }
}
