// The measured guest as the workload sees it during run(), recording every command it is given:
// the exact script, the environment it starts with (the guest's own plus the call's) and its
// directory. That record is the run's command.json artifact.
import type { ExecOptions, Guest } from './types.ts';

export interface RecordedCommand {
  /** Seconds since the measured part began. */
  at: number;
  kind: 'sh' | 'spawn';
  script: string;
  env: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/**
 * The same proxy must serve the workload's setup() and run(): workloads keep per-guest state keyed
 * by the guest object (WeakMap). `clock.t0` is when the measured part began (set it before run()).
 */
export function recordingGuest(guest: Guest, record: RecordedCommand[], clock = { t0: performance.now() }): Guest {
  const note = (kind: 'sh' | 'spawn', script: string, opts?: ExecOptions) => {
    record.push({
      at: Math.round(performance.now() - clock.t0) / 1000,
      kind,
      script,
      env: { ...(guest.environment ?? {}), ...(opts?.env ?? {}) },
      ...(opts?.cwd ? { cwd: opts.cwd } : {}),
      ...(opts?.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
  };
  return new Proxy(guest, {
    get(target, key) {
      if (key === 'sh') return (script: string, opts?: ExecOptions) => (note('sh', script, opts), target.sh(script, opts));
      if (key === 'spawn') return (script: string, opts?: ExecOptions) => (note('spawn', script, opts), target.spawn(script, opts));
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
