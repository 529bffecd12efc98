// samples.jsonl -> one summary row per (cell, metric) -> summary.csv.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../core/atomic.ts';
import type { Sample } from '../core/types.ts';
import { relativeSpread, roundRatio } from './rounds.ts';
import { readSamplesJsonl } from './samples.ts';
import { describe, ratioCI, tQuantile } from './stats.ts';

/** One line of summary.csv. Numbers that are not defined (n < 2, no reference...) are NaN. */
export interface SummaryRow {
  suite: string;
  cell: string;
  platform: string;
  workload: string;
  resource: string;
  neighbour_kind: string;
  neighbour: string;
  cpu_policy: string;
  memory_limit: string;
  overcommit: number;
  /** Multi-tenant cells (undefined = one tenant / not part of a group): written empty. */
  tenants: number | undefined;
  busy: string | undefined;
  group: string | undefined;
  cpus_per_tenant: number | undefined;
  metric: string;
  unit: string;
  better: string;
  accel: string;
  n: number;
  mean: number;
  sd: number;
  cv: number;
  median: number;
  min: number;
  max: number;
  ci95_low: number;
  ci95_high: number;
  reference: string;
  ratio: number;
  ratio_ci95_low: number;
  ratio_ci95_high: number;
  round_ratio: number;
  round_ratio_ci95_low: number;
  round_ratio_ci95_high: number;
  round_pairs: number;
  calib_spread: number;
  dnf: number;
  errors: number;
  boot_s: number;
  note: string;
}

/** The columns of summary.csv, in order. */
export const SUMMARY_COLUMNS = [
  'suite',
  'cell',
  'platform',
  'workload',
  'resource',
  'neighbour_kind',
  'neighbour',
  'cpu_policy',
  'memory_limit',
  'overcommit',
  'tenants',
  'busy',
  'group',
  'cpus_per_tenant',
  'metric',
  'unit',
  'better',
  'accel',
  'n',
  'mean',
  'sd',
  'cv',
  'median',
  'min',
  'max',
  'ci95_low',
  'ci95_high',
  'reference',
  'ratio',
  'ratio_ci95_low',
  'ratio_ci95_high',
  'round_ratio',
  'round_ratio_ci95_low',
  'round_ratio_ci95_high',
  'round_pairs',
  'calib_spread',
  'dnf',
  'errors',
  'boot_s',
  'note',
] as const satisfies readonly (keyof SummaryRow)[];

export type SummaryColumn = (typeof SUMMARY_COLUMNS)[number];

// Compile-time check that SUMMARY_COLUMNS names every field of SummaryRow.
type MissingColumns = Exclude<keyof SummaryRow, SummaryColumn>;
const everyFieldIsAColumn: [MissingColumns] extends [never] ? true : MissingColumns = true;
void everyFieldIsAColumn;

/** One sentence per column of summary.csv, for the README. */
export const COLUMN_DOCS: Record<SummaryColumn, string> = {
  suite: 'Suite that produced the samples.',
  cell: 'Id of the matrix cell (platform x workload x neighbour x allocation x overcommit).',
  platform: 'Driver the measured guest ran on (baremetal, lxc, kvm, ...).',
  workload: 'Measured workload.',
  resource: 'Resource the workload stresses (cpu, disk, memory, network).',
  neighbour_kind: 'Kind of neighbour beside the measured guest (none, competing, orthogonal, adversarial).',
  neighbour: 'Neighbour workload running beside the measured guest.',
  cpu_policy: 'CPU allocation policy: cpuset (pinning), shares (weights on every CPU) or quota (a CFS quota cap).',
  memory_limit: 'Memory limit kind: hard or soft.',
  overcommit: 'Overcommit factor of the cell.',
  tenants: 'Tenants running the workload at the same time in this cell (statistics are over tenants and repetitions); empty for cells not sized for tenants.',
  busy: "Allocation cells: 'all' tenants busy, or only tenant 'one' (the others provisioned idle); empty otherwise.",
  group: 'The part of the suite (figure) the cell belongs to, e.g. fig9; empty for suites without groups.',
  cpus_per_tenant: 'Allocation cells: host CPUs each tenant is given (C/k) by the cell\'s cpu_policy; empty otherwise.',
  metric: 'Metric name, as reported by the workload.',
  unit: 'Unit of the metric and of every value column (mean, sd, median, min, max, ci95_*).',
  better: 'Whether lower or higher values are better.',
  accel: "Acceleration of the measured samples (native, kvm, tcg), joined with '+' when mixed.",
  n: "Number of measured (non-warm-up) samples with status 'ok'; the statistics below are over these.",
  mean: 'Arithmetic mean of the ok values.',
  sd: 'Sample standard deviation (n-1 denominator); empty when n < 2.',
  cv: 'Coefficient of variation, sd/mean; empty when n < 2.',
  median: 'Median of the ok values.',
  min: 'Smallest ok value.',
  max: 'Largest ok value.',
  ci95_low: 'Lower bound of the two-sided 95% Student-t confidence interval of the mean; empty when n < 2.',
  ci95_high: 'Upper bound of the two-sided 95% Student-t confidence interval of the mean; empty when n < 2.',
  reference: 'Id of the cell this one is compared against; empty for a reference cell.',
  ratio: "mean of this cell / mean of the reference cell for the same metric ('ok' samples of both).",
  ratio_ci95_low:
    "Lower bound of the 95% confidence interval of the ratio (Fieller's theorem, independent samples, t at Welch-Satterthwaite df); empty when unbounded or not estimable.",
  ratio_ci95_high: 'Upper bound of the 95% confidence interval of the ratio; empty when unbounded or not estimable.',
  round_ratio:
    'Ratio within rounds: every round runs every cell, so rep r of this cell is paired with rep r of the reference; the geometric mean of those per-round ratios. Host drift slower than a round cancels out of it; empty without a reference or a pair.',
  round_ratio_ci95_low: 'Lower bound of the 95% Student-t interval of the mean log per-round ratio, back-transformed; empty with fewer than 2 pairs.',
  round_ratio_ci95_high: 'Upper bound of the same interval; empty with fewer than 2 pairs.',
  round_pairs: 'Rounds in which both this cell and its reference have an ok value (the pairs behind round_ratio).',
  calib_spread:
    "The host's speed over the runs of this cell and its reference: (max - min) / median of the calibration's times (samples' calibration.cpuMs, and sysMs where recorded: the larger spread), the same fixed work before every run; empty when fewer than 2 runs were calibrated.",
  dnf: "Measured runs that did not finish (hit their timeout): samples with status 'dnf'.",
  errors: "Measured runs that failed: samples with status 'error'.",
  boot_s: "VM and container platforms: mean seconds from starting the measured guest (its hypervisor, or lxc-start) to the guest answering commands (launch time), over the cell's measured runs; empty for bare metal.",
  note: "Caveats for reading the row, separated by '; ' (mixed acceleration in a ratio, missing reference, unbounded CI...).",
};

const ACCEL_ORDER = ['native', 'kvm', 'tcg'];

function accelSet(samples: readonly Sample[]): string {
  const set = [...new Set(samples.map((s) => s.accel as string))];
  set.sort((x, y) => {
    const ix = ACCEL_ORDER.indexOf(x);
    const iy = ACCEL_ORDER.indexOf(y);
    if (ix !== iy) return (ix < 0 ? ACCEL_ORDER.length : ix) - (iy < 0 ? ACCEL_ORDER.length : iy);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return set.join('+');
}

interface Group {
  cell: string;
  metric: string;
  samples: Sample[];
  ok: Sample[];
}

function okValues(group: Group): number[] {
  return group.ok.map((s) => s.value as number);
}

/**
 * One row per (cell, metric), warm-up samples dropped, statistics over the 'ok' samples, ratios
 * against each cell's reference cell. Rows come in `cellOrder` (the suite's matrix order, from the
 * manifest) when given, cells it does not list after those in order of first appearance; metrics
 * in order of first appearance within the cell. Runs are shuffled, a table should not be.
 */
export function summarize(samples: readonly Sample[], cellOrder: readonly string[] = []): SummaryRow[] {
  const groups = new Map<string, Map<string, Group>>();
  for (const s of samples) {
    if (s.warmup) continue;
    let byMetric = groups.get(s.cell);
    if (!byMetric) groups.set(s.cell, (byMetric = new Map()));
    let group = byMetric.get(s.metric);
    if (!group) byMetric.set(s.metric, (group = { cell: s.cell, metric: s.metric, samples: [], ok: [] }));
    group.samples.push(s);
    if (s.status === 'ok') {
      if (typeof s.value !== 'number' || !Number.isFinite(s.value)) {
        throw new Error(`sample of cell ${s.cell}, metric ${s.metric}, rep ${s.rep} has status 'ok' but value ${s.value}`);
      }
      group.ok.push(s);
    }
  }

  const rank = new Map(cellOrder.map((id, i) => [id, i]));
  const cells = [...groups.keys()];
  const position = (id: string) => rank.get(id) ?? cellOrder.length + cells.indexOf(id);
  const rows: SummaryRow[] = [];
  for (const byMetric of cells.sort((a, b) => position(a) - position(b)).map((id) => groups.get(id)!)) {
    for (const group of byMetric.values()) rows.push(summarizeGroup(group, groups));
  }
  return rows;
}

function summarizeGroup(group: Group, groups: Map<string, Map<string, Group>>): SummaryRow {
  const first = group.samples[0]!;
  const notes: string[] = [];
  const d = describe(okValues(group));
  if (d.n === 0) notes.push('no ok samples');
  else if (d.n === 1) notes.push('n=1: no sd or confidence interval');
  // a DNF has no value: the statistics describe only the runs that finished, which is a selection
  const dnfs = group.samples.filter((s) => s.status === 'dnf').length;
  if (dnfs > 0 && d.n > 0) notes.push(`statistics over the ${d.n} runs that finished (${dnfs} of ${group.samples.length} DNF): conditional on finishing`);

  const accel = accelSet(group.samples);
  if (accel.includes('+')) notes.push(`cell mixes accel ${accel}`);
  const units = [...new Set(group.samples.map((s) => s.unit))];
  if (units.length > 1) notes.push(`mixed units: ${units.join(', ')}`);
  // how the values were obtained (e.g. fio standing in for filebench): said once, and flagged when mixed
  const how = [...new Set(group.ok.map((s) => s.note).filter((n): n is string => Boolean(n)))];
  if (how.length > 0) notes.push(how.length > 1 ? `mixes ${how.join(' and ')}` : how[0]!);

  const refId = group.samples.find((s) => s.reference !== undefined && s.reference !== '')?.reference;
  const reference = refId !== undefined && refId !== group.cell ? refId : '';
  let ratio = { ratio: NaN, low: NaN, high: NaN, g: NaN, df: NaN };
  if (reference !== '') {
    const ref = groups.get(reference)?.get(group.metric);
    if (!ref) {
      notes.push(`reference ${reference} has no samples for this metric`);
    } else if (ref.ok.length === 0) {
      notes.push('reference has no ok samples');
    } else if (group.ok.length > 0) {
      ratio = ratioCI(okValues(group), okValues(ref));
      const mine = accelSet(group.ok);
      const theirs = accelSet(ref.ok);
      if (mine !== theirs) notes.push(`ratio compares ${mine} with ${theirs}`);
      if (Number.isNaN(ratio.ratio)) notes.push('reference mean is 0: no ratio');
      else if (group.ok.length < 2 || ref.ok.length < 2) notes.push('ratio CI needs at least 2 ok samples in both cells');
      else if (Number.isNaN(ratio.low)) notes.push(unboundedRatioNote(okValues(group), okValues(ref), ratio.df));
    }
  }

  const rounds = reference === '' ? undefined : groups.get(reference)?.get(group.metric);
  // a round of a multi-tenant cell has one value per tenant: the round's value is their mean
  const byRep = (g: Group) => {
    const per = new Map<number, number[]>();
    for (const x of g.ok) per.set(x.rep, [...(per.get(x.rep) ?? []), x.value as number]);
    return new Map([...per].map(([rep, xs]) => [rep, xs.reduce((a, b) => a + b, 0) / xs.length]));
  };
  const within = rounds && group.ok.length > 0 ? roundRatio(byRep(group), byRep(rounds)) : { ratio: NaN, low: NaN, high: NaN, pairs: 0 };
  const calibrated = [...group.samples, ...(rounds?.samples ?? [])].filter((x) => !x.warmup && x.calibration);
  // the larger of the CPU loop's and the kernel work's spreads (a host's syscall speed can move alone)
  const sysSpread = relativeSpread(calibrated.flatMap((x) => (x.calibration!.sysMs === undefined ? [] : [x.calibration!.sysMs])));
  const calibSpread = Math.max(relativeSpread(calibrated.map((x) => x.calibration!.cpuMs)), Number.isNaN(sysSpread) ? -Infinity : sysSpread);
  const effect = Math.abs((Number.isNaN(within.ratio) ? ratio.ratio : within.ratio) - 1);
  if (calibSpread > effect) {
    notes.push(`host speed moved ${(calibSpread * 100).toFixed(1)}% over these runs (calibration) - more than the ${(effect * 100).toFixed(1)}% effect: prefer round_ratio and more rounds`);
  }

  const boots = group.samples.flatMap((s) => (s.warmup || s.bootSeconds === undefined ? [] : [s.bootSeconds]));
  return {
    suite: first.suite,
    cell: group.cell,
    platform: first.platform,
    workload: first.workload,
    resource: first.resource,
    neighbour_kind: first.neighbourKind,
    neighbour: first.neighbour,
    cpu_policy: first.cpuPolicy,
    memory_limit: first.memoryLimit,
    overcommit: first.overcommit,
    tenants: first.tenants,
    busy: first.busy ?? (first.cpusPerTenant !== undefined ? 'all' : undefined),
    group: first.group,
    cpus_per_tenant: first.cpusPerTenant,
    metric: group.metric,
    unit: first.unit,
    better: first.better,
    accel,
    n: d.n,
    mean: d.mean,
    sd: d.sd,
    cv: d.cv,
    median: d.median,
    min: d.min,
    max: d.max,
    ci95_low: d.ci95Low,
    ci95_high: d.ci95High,
    reference,
    ratio: ratio.ratio,
    ratio_ci95_low: ratio.low,
    ratio_ci95_high: ratio.high,
    round_ratio: within.ratio,
    round_ratio_ci95_low: within.low,
    round_ratio_ci95_high: within.high,
    round_pairs: within.pairs,
    calib_spread: calibSpread,
    dnf: group.samples.filter((s) => s.status === 'dnf').length,
    errors: group.samples.filter((s) => s.status === 'error').length,
    boot_s: boots.length ? boots.reduce((a, b) => a + b, 0) / boots.length : NaN,
    note: notes.join('; '),
  };
}

/**
 * Why Fieller's interval of mean(cell)/mean(reference) has no bounds, in words: the note must name the
 * real cause, which is the reference mean only when the reference alone cannot tell its mean from 0.
 */
function unboundedRatioNote(cell: readonly number[], ref: readonly number[], df: number): string {
  if (cell.every((x) => x === 0)) return "ratio CI not estimable: this cell's values are all 0 (no spread to build an interval from)";
  const r = describe(ref);
  const tRef = tQuantile(0.975, r.n - 1);
  const refDistinctFrom0 = Math.abs(r.mean) > (tRef * r.sd) / Math.sqrt(r.n);
  if (!refDistinctFrom0) return 'ratio CI unbounded: reference mean not significantly different from 0';
  return `ratio CI unbounded: only ${Number.isFinite(df) ? df.toFixed(1) : 'few'} degrees of freedom (Welch-Satterthwaite, n=${cell.length} in this cell, ${ref.length} in the reference): add repetitions`;
}

/** A number with up to 6 significant digits and no trailing zeros; NaN, ±Infinity and undefined as ''. */
export function formatNumber(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '';
  return String(Number(x.toPrecision(6)));
}

/** summary.csv text (header row first) for the given rows. */
export function summaryCsv(rows: readonly SummaryRow[]): string {
  const records = rows.map((row) =>
    SUMMARY_COLUMNS.map((col) => {
      const v = row[col];
      return typeof v === 'number' ? formatNumber(v) : v;
    }),
  );
  return stringify(records, { header: true, columns: [...SUMMARY_COLUMNS] });
}

// The reader lives in samples.ts (one validating reader for every command); re-exported for callers.
export { readSamplesJsonl, type ReadSamplesResult } from './samples.ts';

export interface WriteSummaryResult {
  /** Path of the summary.csv written. */
  path: string;
  rows: SummaryRow[];
  /** As in readSamplesJsonl: a cut-off last line of samples.jsonl that was ignored. */
  ignoredLastLine?: number;
}

/** Cell ids in the order the suite declared them; empty when there is no readable manifest. */
async function manifestCellOrder(resultDir: string): Promise<string[]> {
  try {
    const m = JSON.parse(await readFile(join(resultDir, 'manifest.json'), 'utf8')) as { cells?: { id?: unknown }[] };
    return (m.cells ?? []).flatMap((c) => (typeof c.id === 'string' ? [c.id] : []));
  } catch {
    return [];
  }
}

/** Read `<resultDir>/samples.jsonl`, summarize it and write `<resultDir>/summary.csv`. */
export async function writeSummaryCsv(resultDir: string): Promise<WriteSummaryResult> {
  const { samples, ignoredLastLine } = await readSamplesJsonl(join(resultDir, 'samples.jsonl'));
  const rows = summarize(samples, await manifestCellOrder(resultDir));
  const path = join(resultDir, 'summary.csv');
  writeFileAtomic(path, summaryCsv(rows));
  return ignoredLastLine === undefined ? { path, rows } : { path, rows, ignoredLastLine };
}
