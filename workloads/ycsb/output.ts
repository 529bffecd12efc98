// YCSB's text output ("[SECTION], Measurement, value" lines, as its TextMeasurementsExporter
// writes them with the HdrHistogram measurement type), written by the harness's client and read
// back by one parser that also reads real Java YCSB output.

export interface OperationStats {
  operations: number;
  averageUs: number;
  minUs: number;
  maxUs: number;
  /** By percentile as YCSB names it: '95', '99', '99.9'. */
  percentilesUs: Record<string, number>;
  /** Return=<STATUS> counts: OK, ERROR, NOT_FOUND... */
  returns: Record<string, number>;
}

export interface YcsbResult {
  runtimeMs: number;
  throughput: number;
  /** By section name: READ, UPDATE, INSERT, SCAN, READ-MODIFY-WRITE, CLEANUP, READ-FAILED... */
  operations: Record<string, OperationStats>;
  /** Every other section's values (GC counters...), kept for the reader. */
  other: Record<string, Record<string, number>>;
}

/** Java's Double.toString for the values YCSB prints (shortest repr, ".0" on integers, E notation outside [1e-3, 1e7)). */
export function javaDouble(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (!Number.isFinite(d)) return d > 0 ? 'Infinity' : '-Infinity';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const a = Math.abs(d);
  if (a >= 1e-3 && a < 1e7) {
    const s = String(d);
    return s.includes('.') || s.includes('e') ? s : `${s}.0`;
  }
  const [mant = '', exp = '0'] = d.toExponential().split('e');
  const m = mant.includes('.') ? mant : `${mant}.0`;
  return `${m}E${Number(exp)}`;
}

/** YCSB's ordinal for a percentile: 95 -> "95th", 99 -> "99th", 99.9 -> "99.9". */
export function percentileName(p: number): string {
  if (Number.isInteger(p)) {
    const mod100 = p % 100;
    if (mod100 >= 11 && mod100 <= 13) return `${p}th`;
    const suffix = ['th', 'st', 'nd', 'rd', 'th', 'th', 'th', 'th', 'th', 'th'][p % 10];
    return `${p}${suffix}`;
  }
  return javaDouble(p);
}

export interface OperationReport {
  name: string;
  operations: number;
  averageUs: number;
  minUs: number;
  maxUs: number;
  percentiles: Array<[number, number]>;
  returns: Array<[string, number]>;
}

/** The measurement lines, line for line as Java YCSB's text exporter prints them. */
export function formatYcsbOutput(o: { runtimeMs: number; operationsDone: number; gc?: { count: number; timeMs: number }; ops: OperationReport[] }): string {
  const lines: string[] = [];
  const w = (section: string, key: string, value: string) => lines.push(`[${section}], ${key}, ${value}`);
  const throughput = o.runtimeMs > 0 ? (o.operationsDone * 1000) / o.runtimeMs : 0;
  w('OVERALL', 'RunTime(ms)', String(Math.round(o.runtimeMs)));
  w('OVERALL', 'Throughput(ops/sec)', javaDouble(throughput));
  if (o.gc) {
    w('TOTAL_GCs', 'Count', String(o.gc.count));
    w('TOTAL_GC_TIME', 'Time(ms)', String(Math.round(o.gc.timeMs)));
    w('TOTAL_GC_TIME_%', 'Time(%)', javaDouble(o.runtimeMs > 0 ? (o.gc.timeMs / o.runtimeMs) * 100 : 0));
  }
  for (const op of o.ops) {
    w(op.name, 'Operations', String(op.operations));
    w(op.name, 'AverageLatency(us)', javaDouble(op.averageUs));
    w(op.name, 'MinLatency(us)', String(op.minUs));
    w(op.name, 'MaxLatency(us)', String(op.maxUs));
    for (const [p, v] of op.percentiles) w(op.name, `${percentileName(p)}PercentileLatency(us)`, String(v));
    for (const [status, n] of op.returns) w(op.name, `Return=${status}`, String(n));
  }
  return lines.join('\n') + '\n';
}

const LINE = /^\[([^\]]+)\],\s*([^,]+?),\s*(\S+)\s*$/;

/** Java's number text (plain, E notation, NaN) as a number. */
function javaNumber(s: string): number {
  if (s === 'NaN') return NaN;
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return Number(s.replace('E', 'e'));
}

function opStats(values: Record<string, number>): OperationStats {
  const percentilesUs: Record<string, number> = {};
  const returns: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) {
    const p = k.match(/^(\d+(?:\.\d+)?)(?:st|nd|rd|th)?PercentileLatency\((?:us|ms)\)$/);
    if (p?.[1]) percentilesUs[String(Number(p[1]))] = v;
    const r = k.match(/^Return=(.+)$/);
    if (r?.[1]) returns[r[1]] = v;
  }
  return {
    operations: values['Operations'] ?? 0,
    averageUs: values['AverageLatency(us)'] ?? NaN,
    minUs: values['MinLatency(us)'] ?? NaN,
    maxUs: values['MaxLatency(us)'] ?? NaN,
    percentilesUs,
    returns,
  };
}

/**
 * Read YCSB output (ours or Java YCSB's, status lines and JVM chatter included): only
 * "[SECTION], key, number" lines count. Throws when there is no [OVERALL] section.
 */
export function parseYcsbOutput(text: string): YcsbResult {
  const sections = new Map<string, Record<string, number>>();
  for (const raw of text.split(/\r?\n/)) {
    const m = raw.trim().match(LINE);
    if (!m) continue;
    const [, section = '', key = '', value = ''] = m;
    const n = javaNumber(value);
    if (Number.isNaN(n) && value !== 'NaN') continue;
    let s = sections.get(section);
    if (!s) sections.set(section, (s = {}));
    s[key.trim()] = n;
  }
  const overall = sections.get('OVERALL');
  if (!overall || overall['RunTime(ms)'] === undefined || overall['Throughput(ops/sec)'] === undefined) {
    const tail = text.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`YCSB output has no [OVERALL] RunTime/Throughput lines${tail ? `: ${tail.slice(0, 300)}` : ' (empty output)'}`);
  }
  const operations: Record<string, OperationStats> = {};
  const other: Record<string, Record<string, number>> = {};
  for (const [name, values] of sections) {
    if (name === 'OVERALL') continue;
    if ('Operations' in values) operations[name] = opStats(values);
    else other[name] = values;
  }
  return { runtimeMs: overall['RunTime(ms)'], throughput: overall['Throughput(ops/sec)'], operations, other };
}

// ---------------------------------------------------------------------------------------------
// Status lines (-s): what YCSB prints every 10 seconds and at the end, to stderr. Tools that read
// YCSB's time series parse these, including the per-operation blocks of the interval since the
// last line: "[READ: Count=.., Max=.., Min=.., Avg=.., 90=.., 99=.., 99.9=.., 99.99=..]".

/** Java's DecimalFormat("#.##"): at most two decimals, no trailing zeros (half-even rounding). */
export function decimal2(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const scaled = x * 100;
  const floor = Math.floor(scaled);
  const frac = scaled - floor;
  // half-even only when the value is a tie to within rounding of the binary value
  const r = Math.abs(frac - 0.5) < 1e-9 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(scaled);
  return String(r / 100);
}

/** The time left as YCSB words it: days, hours, minutes (under a day), seconds only when nothing else. */
export function remainingText(seconds: number): string {
  let s = Math.max(0, Math.floor(seconds));
  let out = '';
  const days = Math.floor(s / 86400);
  if (days > 0) {
    out += `${days}${days === 1 ? ' day ' : ' days '}`;
    s -= days * 86400;
  }
  const hours = Math.floor(s / 3600);
  if (hours > 0) {
    out += `${hours}${hours === 1 ? ' hour ' : ' hours '}`;
    s -= hours * 3600;
  }
  if (days < 1) {
    const minutes = Math.floor(s / 60);
    if (minutes > 0) {
      out += `${minutes}${minutes === 1 ? ' minute ' : ' minutes '}`;
      s -= minutes * 60;
    }
  }
  // YCSB 0.17.0 picks "second" or "seconds" by the number of digits written, not by the value
  // ("0 second", "5 second", "16 seconds" in its output)
  if (out === '') out = `${s}${String(s).length === 1 ? ' second ' : ' seconds '}`;
  return out;
}

/** One operation's interval statistics for a status line (microseconds). */
export interface IntervalBlock {
  name: string;
  count: number;
  maxUs: number;
  minUs: number;
  avgUs: number;
  /** 90th, 99th, 99.9th and 99.99th percentiles. */
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** "yyyy-MM-dd HH:mm:ss:SSS" in local time, as YCSB stamps its status lines. */
export function statusStamp(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}:${pad(d.getMilliseconds(), 3)}`;
}

/**
 * A status line as YCSB 0.17.0 prints it: stamp, whole seconds since the start, operations so far,
 * the interval's rate (when any operation was done), the estimated time left (when operations are
 * left) and the interval's block of every operation, each followed by a space.
 */
export function formatStatusLine(o: { now: Date; elapsedMs: number; operations: number; currentOpsPerSec: number; todo: number; blocks: IntervalBlock[] }): string {
  let line = `${statusStamp(o.now)} ${Math.floor(o.elapsedMs / 1000)} sec: ${o.operations} operations; `;
  if (o.operations !== 0) line += `${decimal2(o.currentOpsPerSec)} current ops/sec; `;
  if (o.todo !== 0) {
    const rate = o.elapsedMs > 0 ? o.operations / (o.elapsedMs / 1000) : 0;
    line += `est completion in ${remainingText(rate > 0 ? o.todo / rate : 0)}`;
  }
  for (const b of o.blocks) {
    line += `[${b.name}: Count=${b.count}, Max=${b.maxUs}, Min=${b.minUs}, Avg=${decimal2(b.avgUs)}, 90=${decimal2(b.p90)}, 99=${decimal2(b.p99)}, 99.9=${decimal2(b.p999)}, 99.99=${decimal2(b.p9999)}] `;
  }
  return line;
}
