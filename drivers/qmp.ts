// A small client of QEMU's machine protocol (QMP) over its Unix socket: the greeting, capability
// negotiation, commands matched to their replies by id, and asynchronous events. The VM
// platforms drive pause/resume, checkpoints and migrations through it (drivers/vm-state.ts).
import { createConnection, type Socket } from 'node:net';

/** A command QEMU refused: its own error class and one-line description. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly qmpClass: string,
    readonly desc: string,
  ) {
    super(desc);
    this.name = 'QmpError';
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Waiting {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class QmpClient {
  private buf = '';
  private nextId = 1;
  private readonly waiting = new Map<string, Waiting>();
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  private greeted?: (v: { QMP: { version: { qemu: { major: number; minor: number; micro: number } } } }) => void;
  private closedWhy?: string;
  /** QEMU's version from the greeting, e.g. '7.2.22'. */
  version = '';

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', () => undefined);
    sock.on('close', () => this.fail('the QMP connection closed (QEMU exited?)'));
  }

  /**
   * Connect to QEMU's QMP socket (retrying until it exists: QEMU may still be starting), read the
   * greeting and leave negotiation mode. `dead()` says why QEMU cannot answer any more.
   */
  static async connect(path: string, o: { timeoutMs: number; dead?: () => string | undefined }): Promise<QmpClient> {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      const why = o.dead?.();
      if (why) throw new Error(why);
      const sock = await new Promise<Socket | undefined>((resolve) => {
        const s = createConnection(path);
        s.once('connect', () => resolve(s));
        s.once('error', () => {
          s.destroy();
          resolve(undefined);
        });
      });
      if (sock) {
        const c = new QmpClient(sock);
        try {
          await c.handshake(Math.max(1000, deadline - Date.now()));
          return c;
        } catch (err) {
          c.close();
          throw err;
        }
      }
      if (Date.now() > deadline) throw new Error(`QMP socket ${path} did not accept a connection within ${(o.timeoutMs / 1000).toFixed(0)} s`);
      await sleep(50);
    }
  }

  private async handshake(timeoutMs: number): Promise<void> {
    const greeting = new Promise<Parameters<NonNullable<QmpClient['greeted']>>[0]>((resolve) => (this.greeted = resolve));
    let timer: NodeJS.Timeout | undefined;
    const g = await Promise.race([
      greeting,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('QEMU sent no QMP greeting')), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    const v = g.QMP.version.qemu;
    this.version = `${v.major}.${v.minor}.${v.micro}`;
    await this.execute('qmp_capabilities');
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      this.onMessage(msg);
    }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if ('QMP' in msg) {
      this.greeted?.(msg as never);
      this.greeted = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      for (const l of this.listeners) l(msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const w = id ? this.waiting.get(id) : undefined;
    if (!w || !id) return;
    this.waiting.delete(id);
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      w.reject(new QmpError(w.command, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
    } else w.resolve(msg.return);
  }

  private fail(why: string): void {
    if (this.closedWhy) return;
    this.closedWhy = why;
    for (const w of this.waiting.values()) w.reject(new Error(`QMP ${w.command}: ${why}`));
    this.waiting.clear();
  }

  get closed(): string | undefined {
    return this.closedWhy;
  }

  /** Run a QMP command; resolves with its return value, rejects with QmpError when QEMU refuses it. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedWhy) return Promise.reject(new Error(`QMP ${command}: ${this.closedWhy}`));
    const id = `vb${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Call `fn` for every event QEMU sends; returns a function that stops it. */
  onEvent(fn: (e: QmpEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The next event named `name` (matching `match`, when given), or an error after timeoutMs. */
  waitEvent(name: string, timeoutMs: number, match: (e: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const stop = this.onEvent((e) => {
        if (e.event !== name || !match(e)) return;
        stop();
        clearTimeout(timer);
        resolve(e);
      });
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no QMP event ${name} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
    });
  }

  /** QEMU's run state ('running', 'paused', 'inmigrate', 'postmigrate', ...). */
  async status(): Promise<string> {
    const r = await this.execute<{ status: string; running: boolean }>('query-status');
    return r.status;
  }

  close(): void {
    this.sock.destroy();
    this.fail('the QMP connection was closed');
  }
}
