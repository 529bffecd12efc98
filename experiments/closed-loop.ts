// A closed-loop client for the first seconds of a new instance's service (issue 12): C
// connections, each with one request in flight, for a bounded time; every completed request is
// kept (its end time and latency) so that the run can be cut into 1-second buckets afterwards
// (bucketize, pure) and so that a rate over any window can be read while it runs (completed(),
// for a source's slowdown during a clone or a migration). The requests themselves are the app's
// (experiments/apps/*.ts): YCSB workload A on Redis, point SELECT/UPDATE on MariaDB.
import type { ProfileName } from '../core/types.ts';

/** One connection's request: resolves when answered, rejects when it failed. */
export type Request = () => Promise<void>;

/** Seconds of service measured after a new instance is ready, per profile (the first seconds). */
export const TIMELINE_S: Record<ProfileName, number> = { smoke: 3, quick: 10, paper: 30 };
/** Connections of the closed loop per profile. */
export const LOOP_CONNECTIONS: Record<ProfileName, number> = { smoke: 4, quick: 8, paper: 16 };

/** One second (bucket) of service: requests completed in it, their mean and median latency. */
export interface Bucket {
  /** 1-based: bucket k holds requests completed in [k-1, k) seconds after the loop started. */
  second: number;
  ops: number;
  meanMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
}

/** Quantile of sorted values (type 7, as analysis/experiment-cells.ts percentile). */
function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Cut completed requests into `seconds` buckets of `bucketMs` from the loop's start. `endMs`: when
 * each request was answered, relative to the start; requests past the last bucket are left out.
 * An empty bucket has 0 ops and no latency (null), never a made-up value.
 */
export function bucketize(endMs: ArrayLike<number>, latencyMs: ArrayLike<number>, seconds: number, errorsAtMs: readonly number[] = [], bucketMs = 1000): Bucket[] {
  const lat: number[][] = Array.from({ length: seconds }, () => []);
  for (let i = 0; i < endMs.length; i++) {
    const k = Math.floor(endMs[i]! / bucketMs);
    if (k >= 0 && k < seconds) lat[k]!.push(latencyMs[i]!);
  }
  const errs = new Array<number>(seconds).fill(0);
  for (const t of errorsAtMs) {
    const k = Math.floor(t / bucketMs);
    if (k >= 0 && k < seconds) errs[k]!++;
  }
  return lat.map((xs, k) => {
    const sorted = xs.sort((a, b) => a - b);
    const n = sorted.length;
    return {
      second: k + 1,
      ops: n,
      meanMs: n ? sorted.reduce((a, b) => a + b, 0) / n : null,
      p50Ms: n ? quantile(sorted, 0.5) : null,
      p99Ms: n ? quantile(sorted, 0.99) : null,
      errors: errs[k]!,
    };
  });
}

/** Requests completed per second over [fromMs, toMs) of a loop (for before/during comparisons). */
export function rateBetween(endMs: ArrayLike<number>, fromMs: number, toMs: number): number {
  if (!(toMs > fromMs)) return NaN;
  let n = 0;
  for (let i = 0; i < endMs.length; i++) if (endMs[i]! >= fromMs && endMs[i]! < toMs) n++;
  return (n * 1000) / (toMs - fromMs);
}

/**
 * The throughput a workload lost while something happened to it: 1 - rate during / rate before
 * (0 = unaffected, 1 = it served nothing during). Undefined when there was no rate before.
 */
export function slowdown(before: number, during: number): number | undefined {
  if (!(before > 0) || !Number.isFinite(during)) return undefined;
  return Math.min(1, Math.max(0, 1 - during / before));
}

/** A request unanswered this long ends its connection (10 s: far beyond a migration's pause, seconds under TCG). */
export const REQUEST_TIMEOUT_MS = 10_000;

class RequestTimeout extends Error {}

/** A running closed loop; stop() ends it early (every connection finishes its request in flight). */
export class ClosedLoop {
  readonly endMs: number[] = [];
  readonly latencyMs: number[] = [];
  readonly errorsAtMs: number[] = [];
  readonly errorMessages: string[] = [];
  private t0 = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  readonly done: Promise<void>;

  /** Start now: `requests[i]` is connection i's request; runs for `seconds` at most, or until the signal. */
  constructor(requests: Request[], seconds: number, signal?: AbortSignal, private readonly maxErrors = 100, private readonly requestTimeoutMs = REQUEST_TIMEOUT_MS) {
    this.t0 = performance.now();
    this.timer = setTimeout(() => this.stop(), seconds * 1000);
    const onAbort = () => this.stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.done = Promise.all(requests.map((r) => this.connection(r))).then(() => {
      clearTimeout(this.timer);
      signal?.removeEventListener('abort', onAbort);
    });
  }

  private async connection(request: Request): Promise<void> {
    while (!this.stopped) {
      const s = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        // a server that died (a guest gone with its address) answers nothing and resets nothing:
        // a request unanswered this long ends its connection, so the loop always ends
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RequestTimeout(`no answer within ${this.requestTimeoutMs / 1000} s`)), this.requestTimeoutMs);
        });
        await Promise.race([request(), late]);
        const e = performance.now();
        this.endMs.push(e - this.t0);
        this.latencyMs.push(e - s);
      } catch (err) {
        this.errorsAtMs.push(performance.now() - this.t0);
        if (this.errorMessages.length < 3) this.errorMessages.push((err as Error).message);
        if (err instanceof RequestTimeout) return;
        // a dead server answers every request at once with an error: do not spin on it
        if (this.errorsAtMs.length >= this.maxErrors) this.stop();
        else await new Promise((r) => setTimeout(r, 10));
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** Milliseconds since the loop started. */
  now(): number {
    return performance.now() - this.t0;
  }

  stop(): void {
    this.stopped = true;
  }
}
