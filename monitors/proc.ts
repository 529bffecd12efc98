// Parsers of the kernel files the monitors read. Pure: text in, numbers out; tested on files
// captured from a real host (test/fixtures/monitors).

export interface Pressure {
  /** Cumulative microseconds some (at least one) task stalled on the resource. */
  someUs: number;
  /** Cumulative microseconds all non-idle tasks stalled at once; undefined where the file has no full line (host cpu before 5.13). */
  fullUs?: number;
}

/** A PSI file (/proc/pressure/<r>, or <cgroup>/<r>.pressure): the total= counters. */
export function parsePressure(text: string): Pressure {
  const total = (kind: string) => {
    const m = text.match(new RegExp(`^${kind} .*\\btotal=(\\d+)`, 'm'));
    return m ? Number(m[1]) : undefined;
  };
  const someUs = total('some');
  if (someUs === undefined) throw new Error('not a pressure file: no "some ... total=" line');
  const fullUs = total('full');
  return fullUs === undefined ? { someUs } : { someUs, fullUs };
}

/** The aggregate `cpu` line of /proc/stat in USER_HZ ticks, and the context switches since boot. */
export interface ProcStat {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  ctxt: number;
}

export function parseProcStat(text: string): ProcStat {
  const cpu = text.match(/^cpu\s+(.*)$/m)?.[1]?.trim().split(/\s+/).map(Number);
  if (!cpu || cpu.length < 4 || cpu.some((x) => !Number.isFinite(x))) throw new Error('not /proc/stat: no aggregate cpu line');
  const ctxt = Number(text.match(/^ctxt (\d+)$/m)?.[1] ?? NaN);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  return { user, nice, system, idle, iowait, irq, softirq, steal, ctxt };
}

/** Shares of CPU time between two /proc/stat readings, in percent of all CPU time (every CPU). */
export function cpuSplit(a: ProcStat, b: ProcStat): { userPct: number; sysPct: number; iowaitPct: number; stealPct: number; busyPct: number } {
  const d = (k: keyof ProcStat) => b[k] - a[k];
  const total = d('user') + d('nice') + d('system') + d('idle') + d('iowait') + d('irq') + d('softirq') + d('steal');
  if (!(total > 0)) return { userPct: NaN, sysPct: NaN, iowaitPct: NaN, stealPct: NaN, busyPct: NaN };
  const pct = (x: number) => (100 * x) / total;
  return {
    userPct: pct(d('user') + d('nice')),
    sysPct: pct(d('system') + d('irq') + d('softirq')),
    iowaitPct: pct(d('iowait')),
    stealPct: pct(d('steal')),
    // busy: this host's own work; idle, waiting for I/O and time stolen by the hypervisor are not
    busyPct: pct(total - d('idle') - d('iowait') - d('steal')),
  };
}

/** v1 cpuacct.stat (USER_HZ ticks) or v2 cpu.stat (microseconds): user and system CPU seconds. */
export function parseCgroupCpu(text: string, version: 1 | 2, userHz = 100): { userS: number; sysS: number } {
  const field = (name: string) => {
    const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
    if (!m) throw new Error(`no ${name} line`);
    return Number(m[1]);
  };
  return version === 1 ? { userS: field('user') / userHz, sysS: field('system') / userHz } : { userS: field('user_usec') / 1e6, sysS: field('system_usec') / 1e6 };
}

/**
 * Bytes read and written: v1 blkio.*io_service_bytes* ("<maj:min> Read N" lines, summed over
 * devices) or v2 io.stat ("<maj:min> rbytes=N wbytes=N ..." per device).
 */
export function parseCgroupIo(text: string, version: 1 | 2): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split('\n')) {
    if (version === 1) {
      const m = line.match(/^\d+:\d+ (Read|Write) (\d+)$/);
      if (m) m[1] === 'Read' ? (readBytes += Number(m[2])) : (writeBytes += Number(m[2]));
    } else {
      readBytes += Number(line.match(/\brbytes=(\d+)/)?.[1] ?? 0);
      writeBytes += Number(line.match(/\bwbytes=(\d+)/)?.[1] ?? 0);
    }
  }
  return { readBytes, writeBytes };
}
