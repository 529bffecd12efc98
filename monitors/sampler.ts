// Monitors beside a measured run, read from outside every guest (mmtests-style, cheap: a few small
// kernel files per tick, no process started): the host's pressure stall information (PSI), its CPU
// split and context switches, and per guest cgroup its PSI, memory, CPU and I/O. Each tick's
// interval values go to a JSON-lines file in the run's artifacts; stop() returns the per-run
// summary (mean/max of each series, totals of the counters) that samples carry as context.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestCgroupPaths } from '../core/types.ts';
import { cpuSplit, parseCgroupCpu, parseCgroupIo, parsePressure, parseProcStat, type Pressure, type ProcStat } from './proc.ts';

export const MONITOR_INTERVAL_MS = 1000;
/** Cap of a run's monitor file: ~520 bytes a second for a guest alone (~770 beside a neighbour), so a 30-minute paper-profile run alone fits (~0.9 MiB). */
export const MONITOR_FILE_CAP = 1024 * 1024;
const RESOURCES = ['cpu', 'memory', 'io'] as const;
const SHORT: Record<(typeof RESOURCES)[number], string> = { cpu: 'cpu', memory: 'mem', io: 'io' };

export interface MonitoredGuest {
  /** 'target', 'neighbour', or a workload tier's name: prefixes its series. */
  role: string;
  paths: GuestCgroupPaths;
}

interface Reading {
  atMs: number;
  host: { pressure: Partial<Record<string, Pressure>>; stat?: ProcStat };
  guests: Record<string, { pressure: Partial<Record<string, Pressure>>; memBytes?: number; cpu?: { userS: number; sysS: number }; io?: { readBytes: number; writeBytes: number } }>;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function tryParse<T>(text: string | undefined, parse: (t: string) => T): T | undefined {
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

/** Which of the monitors' sources this host offers (for the manifest). */
export function monitorSources(cgroupVersion: 1 | 2, unifiedMount: string | undefined): Record<string, string> {
  const host = existsSync('/proc/pressure/cpu') ? '/proc/pressure/{cpu,memory,io}' : 'absent (kernel without PSI, or booted with psi=0)';
  const guest =
    cgroupVersion === 2
      ? 'cgroup v2 <group>/{cpu,memory,io}.pressure'
      : unifiedMount && existsSync(join(unifiedMount, 'cpu.pressure'))
        ? `cgroup v1 has no pressure files (memory.pressure_level is an event notifier, not PSI); each guest also joins a group in the v2 hierarchy mounted at ${unifiedMount}, whose {cpu,memory,io}.pressure are read`
        : 'cgroup v1 has no pressure files and no v2 hierarchy with PSI is mounted: no per-guest PSI';
  return {
    hostPressure: host,
    guestPressure: guest,
    hostCpu: '/proc/stat (cpu split, ctxt)',
    guestMemory: cgroupVersion === 1 ? 'memory.usage_in_bytes' : 'memory.current',
    guestCpu: cgroupVersion === 1 ? 'cpuacct.stat' : 'cpu.stat',
    guestIo: cgroupVersion === 1 ? 'blkio.throttle.io_service_bytes_recursive (0 where the kernel does not account v1 blkio)' : 'io.stat',
    vmSteal: "the guest's /proc/stat at the start and end of the measured run, through the guest agent",
  };
}

function takeReading(guests: MonitoredGuest[]): Reading {
  const r: Reading = { atMs: performance.now(), host: { pressure: {} }, guests: {} };
  for (const res of RESOURCES) {
    const p = tryParse(read(`/proc/pressure/${res}`), parsePressure);
    if (p) r.host.pressure[res] = p;
  }
  r.host.stat = tryParse(read('/proc/stat'), parseProcStat);
  for (const g of guests) {
    const v = g.paths.version;
    const entry: Reading['guests'][string] = { pressure: {} };
    if (g.paths.psi) {
      for (const res of RESOURCES) {
        const p = tryParse(read(join(g.paths.psi, `${res}.pressure`)), parsePressure);
        if (p) entry.pressure[res] = p;
      }
    }
    if (g.paths.memory) {
      const t = read(join(g.paths.memory, v === 1 ? 'memory.usage_in_bytes' : 'memory.current'));
      if (t !== undefined && /^\d+\s*$/.test(t)) entry.memBytes = Number(t);
    }
    if (g.paths.cpu) entry.cpu = tryParse(read(join(g.paths.cpu, v === 1 ? 'cpuacct.stat' : 'cpu.stat')), (t) => parseCgroupCpu(t, v));
    if (g.paths.io) entry.io = tryParse(read(join(g.paths.io, v === 1 ? 'blkio.throttle.io_service_bytes_recursive' : 'io.stat')), (t) => parseCgroupIo(t, v));
    r.guests[g.role] = entry;
  }
  return r;
}

/** The interval values between two readings (percentages of wall time, rates per second, levels). */
export function intervalValues(a: Reading, b: Reading): Record<string, number> {
  const out: Record<string, number> = {};
  const us = (b.atMs - a.atMs) * 1000;
  if (!(us > 0)) return out;
  const stall = (prefix: string, pa: Reading['host']['pressure'], pb: Reading['host']['pressure']) => {
    for (const res of RESOURCES) {
      const x = pa[res];
      const y = pb[res];
      if (!x || !y) continue;
      out[`${prefix}_psi_${SHORT[res]}_some_pct`] = (100 * (y.someUs - x.someUs)) / us;
      // a whole host's cpu 'full' is not defined (always 0); a cgroup's is
      if (x.fullUs !== undefined && y.fullUs !== undefined && !(prefix === 'host' && res === 'cpu')) out[`${prefix}_psi_${SHORT[res]}_full_pct`] = (100 * (y.fullUs - x.fullUs)) / us;
    }
  };
  stall('host', a.host.pressure, b.host.pressure);
  if (a.host.stat && b.host.stat) {
    const s = cpuSplit(a.host.stat, b.host.stat);
    out.host_user_pct = s.userPct;
    out.host_sys_pct = s.sysPct;
    out.host_iowait_pct = s.iowaitPct;
    out.host_steal_pct = s.stealPct;
    out.host_busy_pct = s.busyPct;
    if (Number.isFinite(a.host.stat.ctxt) && Number.isFinite(b.host.stat.ctxt)) out.host_ctxt_per_s = ((b.host.stat.ctxt - a.host.stat.ctxt) * 1e6) / us;
  }
  for (const [role, y] of Object.entries(b.guests)) {
    const x = a.guests[role];
    if (!x) continue;
    stall(role, x.pressure, y.pressure);
    if (y.memBytes !== undefined) out[`${role}_mem_bytes`] = y.memBytes;
    if (x.cpu && y.cpu) out[`${role}_cpu_pct`] = (100 * (y.cpu.userS + y.cpu.sysS - x.cpu.userS - x.cpu.sysS) * 1e6) / us;
  }
  for (const [k, v] of Object.entries(out)) if (!Number.isFinite(v)) delete out[k];
  return out;
}

const sig = (x: number) => Number(x.toPrecision(4));

/**
 * Per-run summary of interval series: `<series>_mean` and `<series>_max`, plus the counters' totals
 * over the run (`<role>_cpu_user_s`, `<role>_cpu_sys_s`, `<role>_io_read_bytes`, `<role>_io_write_bytes`).
 */
export function summarizeSeries(intervals: Record<string, number>[], first?: Reading, last?: Reading): Record<string, number> {
  const out: Record<string, number> = {};
  const keys = [...new Set(intervals.flatMap((i) => Object.keys(i)))];
  for (const k of keys) {
    const xs = intervals.flatMap((i) => (i[k] === undefined ? [] : [i[k]!]));
    if (xs.length === 0) continue;
    out[`${k}_mean`] = sig(xs.reduce((a, b) => a + b, 0) / xs.length);
    out[`${k}_max`] = sig(Math.max(...xs));
  }
  if (first && last) {
    for (const [role, y] of Object.entries(last.guests)) {
      const x = first.guests[role];
      if (x?.cpu && y.cpu) {
        out[`${role}_cpu_user_s`] = sig(y.cpu.userS - x.cpu.userS);
        out[`${role}_cpu_sys_s`] = sig(y.cpu.sysS - x.cpu.sysS);
      }
      if (x?.io && y.io) {
        out[`${role}_io_read_bytes`] = y.io.readBytes - x.io.readBytes;
        out[`${role}_io_write_bytes`] = y.io.writeBytes - x.io.writeBytes;
      }
    }
  }
  return out;
}

/** Samples the host and the given guests every `intervalMs` from start() to stop(). */
export class RunMonitor {
  private timer?: NodeJS.Timeout;
  private first?: Reading;
  private prev?: Reading;
  private readonly intervals: Record<string, number>[] = [];
  private written = 0;
  private truncated = false;
  private t0 = 0;
  /** Milliseconds the monitor itself spent reading, computing and writing: its cost to the host. */
  private busyMs = 0;

  constructor(
    private readonly guests: MonitoredGuest[],
    private readonly file?: string,
    private readonly intervalMs = MONITOR_INTERVAL_MS,
    private readonly capBytes = MONITOR_FILE_CAP,
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.first = this.prev = takeReading(this.guests);
    this.busyMs += performance.now() - this.t0;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  // runs from a timer: an exception here would crash the harness mid-run, so none may escape (a
  // reading that fails skips its interval; the run's own writes report a full disk, not this)
  private tick(): void {
    const began = performance.now();
    try {
      this.sample();
    } catch {
      /* a guest's cgroup gone between readings: this interval is lost, the next one goes on */
    } finally {
      this.busyMs += performance.now() - began;
    }
  }

  /** Append to the monitor file; a failed write (disk full, read-only) stops the file, not the run. */
  private append(text: string): void {
    try {
      appendFileSync(this.file!, text);
    } catch {
      this.truncated = true;
    }
  }

  private sample(): void {
    const now = takeReading(this.guests);
    const values = intervalValues(this.prev!, now);
    this.prev = now;
    this.intervals.push(values);
    if (!this.file || this.truncated) return;
    const line = JSON.stringify({ t: Math.round(now.atMs - this.t0) / 1000, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, sig(v)])) }) + '\n';
    if (this.written + line.length > this.capBytes) {
      this.truncated = true;
      this.append(JSON.stringify({ truncated: `monitor file capped at ${this.capBytes} bytes; the summary covers the whole run` }) + '\n');
      return;
    }
    this.append(line);
    this.written += line.length;
  }

  /** Stop sampling (one last reading closes the final interval) and summarize the run. */
  stop(): Record<string, number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.first) return {};
    this.tick();
    const elapsedMs = performance.now() - this.t0;
    return {
      ...summarizeSeries(this.intervals, this.first, this.prev),
      // the monitors' own time on the host's CPUs, as a share of one CPU over the run
      monitor_cost_pct: sig((100 * this.busyMs) / Math.max(1, elapsedMs)),
    };
  }
}
