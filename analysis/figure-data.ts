// What each figure (and its paper table) shows, computed from summary rows. Pure.
//
// Relative figures plot *relative performance*: mean / reference mean for metrics where higher is
// better, reference mean / mean where lower is better, so that in every figure 1 is "as the
// reference", below 1 is worse and above 1 is better (the ratio of summary.csv, turned round for
// lower-is-better metrics; its confidence interval turned round with it). Absolute figures plot the
// mean in the metric's unit with its 95% Student-t interval.
//
// Figures made from one result directory:
//   overview   one per neighbour kind (and allocation/overcommit setting): every workload on the
//              x axis, platforms side by side (the study's Figures 3-5: competing, orthogonal,
//              adversarial; DNF written where a platform did not finish)
//   workload   one per workload and metric: neighbours on the x axis, relative and absolute
//   overcommit one per workload, metric and neighbour when cells of several overcommit factors exist
//   allocation one per workload, metric and neighbour when cells of several CPU/memory allocation
//              policies exist
import { NEIGHBOUR_ORDER } from '../core/matrix.ts';
import type { Better } from '../core/types.ts';
import { UsageError } from '../core/errors.ts';
import type { SummaryRow } from './summary.ts';

export type Measure = 'relative' | 'absolute';
export type FigureKind = 'overview' | 'workload' | 'overcommit' | 'allocation' | 'group';
export type PointStatus = 'ok' | 'partial dnf' | 'partial error' | 'dnf' | 'error' | 'reference' | 'reference dnf' | 'no value';

export interface FigurePoint {
  category: string;
  platform: string;
  cell: string;
  metric: string;
  unit: string;
  better: Better;
  /** Bar height: relative performance or mean (NaN: no bar). */
  value: number;
  /** 95% interval of value (NaN: none). */
  low: number;
  high: number;
  n: number;
  dnf: number;
  errors: number;
  status: PointStatus;
  /** Text drawn at the bar ('DNF', '2/5 DNF', ...); empty for an ordinary bar. */
  label: string;
  /** Caveats from summary.csv's note column. */
  note: string;
  accel: string;
}

export interface FigureData {
  /** File-name-safe id, unique within a result directory. */
  id: string;
  kind: FigureKind;
  measure: Measure;
  title: string;
  subtitle: string;
  xTitle: string;
  yTitle: string;
  /** Unit of value: 'x' for relative figures, the metric's unit for absolute ones. */
  unit: string;
  /** Figures of a suite's group (Cell.group, e.g. 'fig9'): which group. */
  group?: string;
  categories: string[];
  platforms: string[];
  points: FigurePoint[];
}

export const PLATFORM_ORDER = ['baremetal', 'lxc', 'kvm', 'lxcvm', 'lightvm'];

export function distinct<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

export function neighbourLabel(r: Pick<SummaryRow, 'neighbour_kind' | 'neighbour'>): string {
  return r.neighbour_kind === 'none' ? 'no neighbour' : `${r.neighbour_kind}: ${r.neighbour}`;
}

export function allocationLabel(r: Pick<SummaryRow, 'cpu_policy' | 'memory_limit'>): string {
  return `${r.cpu_policy === 'cpuset' ? 'pinned CPUs' : r.cpu_policy === 'quota' ? 'CPU quota' : 'CPU shares'}, ${r.memory_limit} memory limit`;
}

export function overcommitLabel(r: Pick<SummaryRow, 'overcommit'>): string {
  return `×${r.overcommit}`;
}

export function slug(s: string): string {
  return s
    .replace(/×/g, 'x')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
}

function neighbourRank(r: SummaryRow): number {
  const i = NEIGHBOUR_ORDER.indexOf(r.neighbour_kind as never);
  return i < 0 ? NEIGHBOUR_ORDER.length : i;
}

export function platformSort(ps: string[], order: readonly string[]): string[] {
  const rank = (p: string) => {
    const i = order.indexOf(p);
    return i < 0 ? order.length : i;
  };
  return [...ps].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Relative performance (1 = as the reference, higher is better) and its interval. */
export function relativePerformance(r: Pick<SummaryRow, 'ratio' | 'ratio_ci95_low' | 'ratio_ci95_high' | 'better'>): { value: number; low: number; high: number } {
  const ok = (x: number) => Number.isFinite(x) && x > 0;
  if (!ok(r.ratio)) return { value: NaN, low: NaN, high: NaN };
  if (r.better === 'higher') return { value: r.ratio, low: ok(r.ratio_ci95_low) ? r.ratio_ci95_low : NaN, high: ok(r.ratio_ci95_high) ? r.ratio_ci95_high : NaN };
  const bounded = ok(r.ratio_ci95_low) && ok(r.ratio_ci95_high);
  return { value: 1 / r.ratio, low: bounded ? 1 / r.ratio_ci95_high : NaN, high: bounded ? 1 / r.ratio_ci95_low : NaN };
}

export function point(r: SummaryRow, category: string, measure: Measure, byCell: Map<string, SummaryRow>): FigurePoint {
  const runs = r.n + r.dnf + r.errors;
  let status: PointStatus = 'ok';
  let label = '';
  let value: number;
  let low: number;
  let high: number;
  if (measure === 'relative') {
    ({ value, low, high } = relativePerformance(r));
  } else {
    value = r.mean;
    low = r.ci95_low;
    high = r.ci95_high;
  }
  if (r.n === 0 && r.dnf > 0) {
    status = 'dnf';
    label = 'DNF';
  } else if (r.n === 0 && r.errors > 0) {
    status = 'error';
    label = 'error';
  } else if (r.dnf > 0) {
    status = 'partial dnf';
    label = `${r.dnf}/${runs} DNF`;
  }
  if (measure === 'relative' && status === 'ok' && !Number.isFinite(value)) {
    const ref = byCell.get(`${r.reference}\u0000${r.metric}`);
    if (ref && ref.n === 0 && ref.dnf > 0) {
      status = 'reference dnf';
      label = 'ref. DNF';
    } else {
      status = 'no value';
      label = 'n/a';
    }
  }
  return {
    category,
    platform: r.platform,
    cell: r.cell,
    metric: r.metric,
    unit: r.unit,
    better: r.better as Better,
    value,
    low,
    high,
    n: r.n,
    dnf: r.dnf,
    errors: r.errors,
    status,
    label,
    note: r.note,
    accel: r.accel,
  };
}

/** What the reference of these rows is, in words. */
function referenceText(rows: readonly SummaryRow[], byCell: Map<string, SummaryRow>): string {
  const kinds = distinct(
    rows.map((r) => {
      const ref = byCell.get(`${r.reference}\u0000${r.metric}`);
      if (!ref) return 'its reference cell';
      if (ref.platform === r.platform && ref.neighbour_kind === 'none' && r.neighbour_kind !== 'none') return 'the same platform with no neighbour';
      if (ref.platform !== r.platform && ref.neighbour === r.neighbour) return ref.platform === 'baremetal' ? 'bare metal' : ref.platform;
      if (ref.overcommit !== r.overcommit) return `overcommit ×${ref.overcommit}`;
      return 'its reference cell';
    }),
  );
  return kinds.length === 1 ? kinds[0]! : 'each cell\u2019s reference';
}

export function accelText(rows: readonly SummaryRow[]): string {
  const emulated = distinct(rows.filter((r) => r.accel.includes('tcg')).map((r) => r.platform));
  return emulated.length > 0 ? `; ${emulated.join(', ')} under TCG emulation` : '';
}

function settingText(r: SummaryRow): string {
  return `${allocationLabel(r)}, overcommit ×${r.overcommit}`;
}

export interface FigureOptions {
  /** Order of platforms in legends and columns (default: baremetal, lxc, kvm, lxcvm, lightvm, then others). */
  platformOrder?: readonly string[];
}

/** Every figure a result directory's summary rows support. */
export function figureData(rows: readonly SummaryRow[], opts: FigureOptions = {}): FigureData[] {
  const order = opts.platformOrder ?? PLATFORM_ORDER;
  const byCell = new Map(rows.map((r) => [`${r.cell}\u0000${r.metric}`, r]));
  const out: FigureData[] = [];
  const suite = rows[0]?.suite ?? '';
  const settingKey = (r: SummaryRow) => `${r.cpu_policy}/${r.memory_limit}/x${r.overcommit}`;
  const settings = distinct(rows.map(settingKey));
  const multiSetting = settings.length > 1;

  // overview: per neighbour kind and setting, every workload (and metric) side by side
  const kinds = distinct([...rows].sort((a, b) => neighbourRank(a) - neighbourRank(b)).map((r) => r.neighbour_kind));
  for (const kind of kinds) {
    const perSetting = settings
      .map((setting) => ({ setting, mine: rows.filter((r) => r.neighbour_kind === kind && settingKey(r) === setting && r.reference !== '') }))
      .filter((x) => x.mine.length > 0);
    for (const { setting, mine } of perSetting) {
      const workloads = distinct(mine.map((r) => r.workload));
      const metricsOf = (w: string) => distinct(mine.filter((r) => r.workload === w).map((r) => r.metric));
      const cat = (r: SummaryRow) => (metricsOf(r.workload).length > 1 ? `${r.workload} (${r.metric})` : r.workload);
      const names = distinct(mine.map((r) => r.neighbour));
      const kindText = kind === 'none' ? 'alone' : `beside a${/^[aeiou]/.test(kind) ? 'n' : ''} ${kind} neighbour`;
      out.push({
        id: slug(`overview-${kind}${perSetting.length > 1 ? `-${setting}` : ''}`),
        kind: 'overview',
        measure: 'relative',
        title: `${suite}: performance ${kindText}, relative to ${referenceText(mine, byCell)}`,
        subtitle: `${kind === 'none' ? '' : `neighbour: ${names.join(', ')}; `}${settingText(mine[0]!)}${accelText(mine)}; bars: mean, whiskers: 95% CI`,
        xTitle: 'workload',
        yTitle: 'relative performance (×, higher is better)',
        unit: 'x',
        categories: distinct(workloads.flatMap((w) => mine.filter((r) => r.workload === w).map(cat))),
        platforms: platformSort(distinct(mine.map((r) => r.platform)), order),
        points: mine.map((r) => point(r, cat(r), 'relative', byCell)),
      });
    }
  }

  // per workload and metric
  const wms = distinct(rows.map((r) => `${r.workload}\u0000${r.metric}`));
  for (const wm of wms) {
    const [workload, metric] = wm.split('\u0000') as [string, string];
    const group = rows.filter((r) => r.workload === workload && r.metric === metric);
    const first = group[0]!;
    const direction = `${first.better} is better`;
    const dims: { kind: FigureKind; label: (r: SummaryRow) => string; rank: (r: SummaryRow) => number; fixed: (r: SummaryRow) => string; fixedText: (r: SummaryRow) => string; xTitle: string }[] = [
      { kind: 'workload', label: neighbourLabel, rank: neighbourRank, fixed: settingKey, fixedText: settingText, xTitle: 'neighbour' },
      { kind: 'overcommit', label: overcommitLabel, rank: (r) => r.overcommit, fixed: (r) => `${r.neighbour_kind}:${r.neighbour}/${r.cpu_policy}/${r.memory_limit}`, fixedText: (r) => `${neighbourLabel(r)}, ${allocationLabel(r)}`, xTitle: 'overcommit factor' },
      { kind: 'allocation', label: allocationLabel, rank: (r) => (r.cpu_policy === 'cpuset' ? 0 : r.cpu_policy === 'quota' ? 4 : 2) + (r.memory_limit === 'hard' ? 0 : 1), fixed: (r) => `${r.neighbour_kind}:${r.neighbour}/x${r.overcommit}`, fixedText: (r) => `${neighbourLabel(r)}, overcommit ×${r.overcommit}`, xTitle: 'allocation' },
    ];
    for (const dim of dims) {
      if (dim.kind !== 'workload' && distinct(group.map(dim.label)).length < 2) continue;
      const subs = distinct(group.map(dim.fixed))
        .map((key) => ({ key, sub: group.filter((r) => dim.fixed(r) === key).sort((a, b) => dim.rank(a) - dim.rank(b)) }))
        .filter(({ sub }) => distinct(sub.map(dim.label)).length >= 2 || (dim.kind === 'workload' && !multiSetting));
      for (const { key, sub } of subs) {
        const suffix = subs.length > 1 ? `-${key}` : '';
        const base = slug(`${workload}-${metric}-by-${dim.kind === 'workload' ? 'neighbour' : dim.kind}${suffix}`);
        const context = `${dim.fixedText(sub[0]!)}${accelText(sub)}; bars: mean, whiskers: 95% CI`;
        const withRef = sub.filter((r) => r.reference !== '');
        if (withRef.length > 0) {
          out.push({
            id: `${base}-relative`,
            kind: dim.kind,
            measure: 'relative',
            title: `${workload}: ${metric} relative to ${referenceText(withRef, byCell)}`,
            subtitle: `${context}; ${metric} in ${first.unit}, ${direction}, shown as relative performance`,
            xTitle: dim.xTitle,
            yTitle: 'relative performance (×, higher is better)',
            unit: 'x',
            categories: distinct(withRef.map(dim.label)),
            platforms: platformSort(distinct(withRef.map((r) => r.platform)), order),
            points: withRef.map((r) => point(r, dim.label(r), 'relative', byCell)),
          });
        }
        out.push({
          id: `${base}-absolute`,
          kind: dim.kind,
          measure: 'absolute',
          title: `${workload}: ${metric} (${first.unit}, ${direction})`,
          subtitle: context,
          xTitle: dim.xTitle,
          yTitle: `${metric} (${first.unit}, ${direction})`,
          unit: first.unit,
          categories: distinct(sub.map(dim.label)),
          platforms: platformSort(distinct(sub.map((r) => r.platform)), order),
          points: sub.map((r) => point(r, dim.label(r), 'absolute', byCell)),
        });
      }
    }
  }
  return out;
}
