// One cell of a result directory, explained: its runs side by side with the reference cell's, each
// with its metrics, the host's calibration before it, what the monitors saw during it (pressure,
// CPU, memory, steal) and where its artifacts are; then the cell's ratios. So that a surprising
// ratio can be traced to contention, pressure, drift of the host, or a setup difference.
import { UsageError } from '../core/errors.ts';
import { sanitizeCellId } from '../core/artifacts.ts';
import type { Sample } from '../core/types.ts';
import type { LoadedRun } from './resultdir.ts';
import { formatNumber, summarize } from './summary.ts';

/** Monitor summaries shown per run, in this order, where any run has them (short header, context key). */
export const SHOWN_CONTEXT: [string, string][] = [
  ['host busy%', 'host_busy_pct_mean'],
  ['host cpu psi%', 'host_psi_cpu_some_pct_mean'],
  ['host io psi%', 'host_psi_io_some_pct_mean'],
  ['host mem psi%', 'host_psi_mem_some_pct_mean'],
  ['cpu psi%', 'target_psi_cpu_some_pct_mean'],
  ['io psi%', 'target_psi_io_some_pct_mean'],
  ['mem psi%', 'target_psi_mem_some_pct_mean'],
  ['mem full%', 'target_psi_mem_full_pct_mean'],
  ['cpu%', 'target_cpu_pct_mean'],
  ['mem MiB max', 'target_mem_bytes_max'],
  ['nbr cpu%', 'neighbour_cpu_pct_mean'],
  ['nbr io psi%', 'neighbour_psi_io_some_pct_mean'],
  ['nbr mem MiB', 'neighbour_mem_bytes_max'],
  ['steal%', 'vm_steal_pct'],
  ['ctxt/s', 'host_ctxt_per_s_mean'],
];

/** The cell a query names: its exact id, its path-safe id (as in runs/), or the one id containing it. */
export function findCell(ids: string[], query: string): string {
  if (ids.includes(query)) return query;
  const safe = ids.filter((id) => sanitizeCellId(id) === query);
  if (safe.length === 1) return safe[0]!;
  const hits = ids.filter((id) => id.includes(query));
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) throw new UsageError(`no cell matches '${query}'; cells: ${ids.join(', ')}`);
  throw new UsageError(`'${query}' matches ${hits.length} cells (${hits.join(', ')}); give more of the id`);
}

interface RunRow {
  cell: string;
  rep: number;
  warmup: boolean;
  start: string;
  status: string;
  values: Map<string, number | null>;
  sample: Sample;
}

function runsOf(samples: Sample[], cell: string): RunRow[] {
  const byRun = new Map<string, RunRow>();
  for (const s of samples) {
    if (s.cell !== cell) continue;
    const key = `${s.warmup ? 'w' : ''}${s.rep}`;
    let r = byRun.get(key);
    if (!r) byRun.set(key, (r = { cell, rep: s.rep, warmup: s.warmup, start: s.start, status: s.status, values: new Map(), sample: s }));
    r.values.set(s.metric, s.value);
    if (s.status !== 'ok') r.status = s.status;
  }
  return [...byRun.values()].sort((a, b) => a.start.localeCompare(b.start));
}

function table(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // text columns (the first two and the last) left-aligned, numbers right-aligned
  const left = (i: number) => i < 2 || (i === header.length - 1 && header[i] === 'artifacts');
  const line = (cells: string[]) => cells.map((c, i) => (left(i) ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : String(Number(x.toPrecision(digits))));

/** The explanation of `query`'s cell in a loaded result directory, as text. */
export function explainCell(run: LoadedRun, query: string): string {
  const ids = [...new Set([...(run.manifest.cells ?? []).map((c) => c.id), ...run.samples.map((s) => s.cell)])];
  const cell = findCell(ids, query);
  const reference = run.samples.find((s) => s.cell === cell && s.reference)?.reference ?? run.manifest.cells?.find((c) => c.id === cell)?.reference;
  const mine = runsOf(run.samples, cell);
  const theirs = reference ? runsOf(run.samples, reference) : [];
  const all = [...mine, ...theirs];
  const metrics = [...new Set(run.samples.filter((s) => s.cell === cell).map((s) => s.metric))];
  const shown = SHOWN_CONTEXT.filter(([, key]) => all.some((r) => r.sample.context?.[key] !== undefined));
  const out: string[] = [];
  out.push(`cell       ${cell}`);
  out.push(`reference  ${reference ?? '(none: a reference cell)'}`);
  out.push(`result     ${run.dir}`);
  const m = run.manifest;
  if (m.harnessCpus) out.push(`cpus       guests pinned to ${m.harnessCpus.measured.join(',')}; harness on ${m.harnessCpus.harness === 'all' ? 'the same CPUs (no spare one)' : m.harnessCpus.harness.join(',')}`);
  if (m.monitors) out.push(`monitors   ${m.monitors.enabled ? `every ${m.monitors.intervalS} s; guest PSI: ${m.monitors.sources?.guestPressure ?? '?'}` : 'off (--no-monitors)'}`);
  if (m.guestMitigations) out.push(`guest mitigations  ${m.guestMitigations.label}`);
  out.push('');

  const header = ['run', 'start', ...metrics, 'calib ms', 'calib sys ms', ...shown.map(([h]) => h), 'artifacts'];
  const row = (r: RunRow, who: string) => [
    `${who} ${r.warmup ? 'w' : '#'}${r.rep}${r.status === 'ok' ? '' : ` ${r.status}`}`,
    r.start.slice(11, 19),
    ...metrics.map((k) => fmt(r.values.get(k))),
    fmt(r.sample.calibration?.cpuMs),
    fmt(r.sample.calibration?.sysMs),
    ...shown.map(([, key]) => {
      const v = r.sample.context?.[key];
      return fmt(v === undefined ? undefined : /_bytes_/.test(key) ? v / 2 ** 20 : v, 3);
    }),
    r.sample.artifacts ?? '-',
  ];
  out.push(table(header, [...mine.map((r) => row(r, 'cell')), ...theirs.map((r) => row(r, 'ref '))]));
  out.push('');
  out.push('cell = this cell, ref = its reference, #n measured rep (round) n, wn warm-up; calib ms: the fixed calibration work just before the run (higher = slower host);');
  out.push('psi%: share of the run some task stalled (host: /proc/pressure; unprefixed: the measured guest\'s group); nbr: the neighbour guest; artifacts under the result directory.');

  if (reference) {
    out.push('');
    const pairs = mine.filter((r) => !r.warmup).flatMap((r) => {
      const ref = theirs.find((x) => !x.warmup && x.rep === r.rep);
      return ref ? [[r, ref] as const] : [];
    });
    if (pairs.length) {
      out.push('per round (cell / ref):');
      out.push(
        table(
          ['round', 'gap', ...metrics, 'calib cell/ref'],
          pairs.map(([a, b]) => [
            `#${a.rep}`,
            `${Math.round(Math.abs(Date.parse(a.start) - Date.parse(b.start)) / 1000)}s`,
            ...metrics.map((k) => {
              const x = a.values.get(k);
              const y = b.values.get(k);
              return typeof x === 'number' && typeof y === 'number' && y !== 0 ? fmt(x / y) : '-';
            }),
            a.sample.calibration && b.sample.calibration ? fmt(a.sample.calibration.cpuMs / b.sample.calibration.cpuMs) : '-',
          ]),
        ),
      );
      out.push('');
    }
    const rows = summarize(run.samples).filter((r) => r.cell === cell);
    out.push('ratios (summary.csv):');
    out.push(
      table(
        ['metric', 'ratio', 'ratio 95% CI', 'round_ratio', 'round 95% CI', 'calib spread'],
        rows.map((r) => [
          r.metric,
          '',
          fmt(r.ratio),
          `[${formatNumber(r.ratio_ci95_low) || '-'}, ${formatNumber(r.ratio_ci95_high) || '-'}]`,
          fmt(r.round_ratio),
          `[${formatNumber(r.round_ratio_ci95_low) || '-'}, ${formatNumber(r.round_ratio_ci95_high) || '-'}]`,
          Number.isFinite(r.calib_spread) ? `${(r.calib_spread * 100).toFixed(1)}%` : '-',
        ]).map(([a, , ...rest]) => [a!, ...rest]),
      ),
    );
    for (const r of rows) if (r.note) out.push(`note (${r.metric}): ${r.note}`);
  }
  return out.join('\n') + '\n';
}
