// Figures of the suites whose cells carry a group (Cell.group): the study's Figures 9-12, one
// headline figure per group in the study's style plus a relative and an absolute figure per
// workload and metric. Pure: summary rows and what the cells declare in, FigureData out.
//
//   fig9            relative performance at each overcommit factor, against x1 of the same platform
//   fig10           CPU shares and quota against cpusets, all tenants busy and only the measured one
//   fig11-limits    soft against hard memory limits at the same overcommit
//   fig11-platform  one platform and limit kind against another (kvm hard vs lxc soft)
//   fig12           lxcvm against kvm at the same overcommit
//
// A cell's value is over its tenants and repetitions (summary rows pool every sample of a cell).
// The reference of a compared cell is drawn as a bar at 1 labelled 'ref.' (or DNF when it did not
// finish), so that each figure shows its reference as the study's do; a cell that did not finish
// is written 'DNF' on the axis, never drawn as a bar.
import type { Cell, Sample } from '../core/types.ts';
import { accelText, distinct, neighbourLabel, platformSort, point, PLATFORM_ORDER, slug, type FigureData, type FigureOptions, type FigurePoint } from './figure-data.ts';
import type { SummaryRow } from './summary.ts';

export type ReferenceAxis = NonNullable<Cell['referenceAxis']>;

/** What a cell declares beyond summary.csv's columns (from its samples and the manifest's cells). */
export interface CellInfo {
  group?: string;
  referenceAxis?: ReferenceAxis;
  tenants?: number;
  busy?: 'all' | 'one';
  cpusPerTenant?: number;
}

/** Per cell id: its group, reference axis, tenants, busy mode; the manifest's declaration wins over samples. */
export function cellInfo(samples: readonly Sample[], cells: readonly Partial<Cell>[] = []): Map<string, CellInfo> {
  const info = new Map<string, CellInfo>();
  const merge = (id: string, x: CellInfo) => {
    const defined = Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as CellInfo;
    info.set(id, { ...info.get(id), ...defined });
  };
  for (const s of samples) {
    if (info.has(s.cell)) continue;
    merge(s.cell, { group: s.group, tenants: s.tenants, busy: s.busy, cpusPerTenant: s.cpusPerTenant });
  }
  for (const c of cells) {
    if (typeof c.id !== 'string') continue;
    merge(c.id, { group: c.group, referenceAxis: c.referenceAxis, tenants: c.tenants, busy: c.busy, cpusPerTenant: c.cpusPerTenant });
  }
  return info;
}

interface GroupText {
  /** The study's figure this group reproduces. */
  study: string;
  /** What the figure compares, for its title. */
  title: string;
}

const GROUPS: Record<string, GroupText> = {
  fig9: { study: 'Figure 9', title: 'performance under CPU and memory overcommitment' },
  fig10: { study: 'Figure 10', title: 'CPU shares and CPU quota against cpusets' },
  'fig11-limits': { study: 'Figure 11', title: 'soft against hard memory limits under overcommitment' },
  'fig11-platform': { study: 'Figure 11', title: 'a VM with hard limits against containers with soft limits' },
  fig12: { study: 'Figure 12', title: 'containers inside a VM (lxcvm) against VMs (kvm)' },
};

/** The metrics a headline figure shows per workload (the study's); other workloads: their first metric. */
const HEADLINE_METRICS: Record<string, string[]> = {
  'kernel-compile': ['wall_s'],
  'specjbb-like': ['bops'],
  'ycsb-redis': ['read-latency-avg', 'update-latency-avg'],
};

/** A setting a group's cells can differ in besides the platform, in the order categories sort by. */
interface Dim {
  name: string;
  key: (r: SummaryRow, i: CellInfo) => string;
  /** Short text for an x category. */
  label: (r: SummaryRow, i: CellInfo) => string;
  rank: (r: SummaryRow, i: CellInfo) => number;
}

const policyName = (p: string) => (p === 'cpuset' ? 'cpuset' : p === 'quota' ? 'CPU quota' : p === 'shares' ? 'CPU shares' : p);
const busyOf = (i: CellInfo) => i.busy ?? 'all';
const tenantsOf = (i: CellInfo) => i.tenants ?? 1;

const DIMS: Dim[] = [
  { name: 'busy', key: (_, i) => busyOf(i), label: (_, i) => (busyOf(i) === 'one' ? 'one busy' : 'all busy'), rank: (_, i) => (busyOf(i) === 'one' ? 1 : 0) },
  { name: 'tenants', key: (_, i) => String(tenantsOf(i)), label: (_, i) => `${tenantsOf(i)} tenant${tenantsOf(i) === 1 ? '' : 's'}`, rank: (_, i) => tenantsOf(i) },
  { name: 'neighbour', key: (r) => `${r.neighbour_kind}:${r.neighbour}`, label: (r) => neighbourLabel(r), rank: (r) => ['none', 'competing', 'orthogonal', 'adversarial'].indexOf(r.neighbour_kind) },
  { name: 'overcommit', key: (r) => String(r.overcommit), label: (r) => `×${r.overcommit}`, rank: (r) => r.overcommit },
  { name: 'memoryLimit', key: (r) => r.memory_limit, label: (r) => `${r.memory_limit} limit`, rank: (r) => (r.memory_limit === 'hard' ? 0 : 1) },
  { name: 'cpuPolicy', key: (r) => r.cpu_policy, label: (r) => policyName(r.cpu_policy), rank: (r) => ['cpuset', 'shares', 'quota'].indexOf(r.cpu_policy) },
  { name: 'cpusPerTenant', key: (_, i) => String(i.cpusPerTenant ?? ''), label: (_, i) => (i.cpusPerTenant === undefined ? 'CPUs not divided' : `${i.cpusPerTenant} host CPU${i.cpusPerTenant === 1 ? '' : 's'} per tenant`), rank: (_, i) => i.cpusPerTenant ?? 0 },
];

/** How a cell's reference differs from it, in words ('×1 of the same platform', 'kvm', 'cpuset'). */
function referenceWords(r: SummaryRow, ref: SummaryRow, ri: CellInfo, refInfo: CellInfo): string {
  const differs = DIMS.filter((d) => d.key(r, ri) !== d.key(ref, refInfo)).reverse();
  const settings = differs.map((d) => (d.name === 'memoryLimit' ? `a ${ref.memory_limit} memory limit` : d.label(ref, refInfo))).join(', ');
  if (ref.platform !== r.platform) return settings === '' ? ref.platform : `${ref.platform} with ${settings}`;
  return settings === '' ? 'the same cell' : `${settings} on the same platform`;
}

/** Which axes a reference differs in (for checking the declared referenceAxis). */
function differingAxes(r: SummaryRow, ref: SummaryRow, ri: CellInfo, refInfo: CellInfo): string[] {
  const out = ref.platform !== r.platform ? ['platform'] : [];
  for (const d of DIMS) if (d.key(r, ri) !== d.key(ref, refInfo)) out.push(d.name);
  return out;
}

/**
 * Settings that may differ along with a declared reference axis: more overcommit means more
 * tenants; another platform may have its own limits (lxcvm's soft-limited containers vs kvm).
 */
const COMPANIONS: Record<ReferenceAxis, string[]> = {
  overcommit: ['tenants'],
  platform: ['memoryLimit', 'cpuPolicy'],
  cpuPolicy: [],
  memoryLimit: [],
  neighbour: [],
};

interface Role {
  row: SummaryRow;
  info: CellInfo;
  /** 'compared': drawn as its ratio to its reference; 'reference': drawn at 1 (the reference itself). */
  role: 'compared' | 'reference';
}

const keyOf = (cell: string, metric: string) => `${cell}\u0000${metric}`;

/** A reference cell's point: 1 by definition, no interval; DNF or error when it did not finish. */
function referencePoint(r: SummaryRow, category: string, byCell: Map<string, SummaryRow>): FigurePoint {
  const p = groupPoint(r, category, 'absolute', byCell);
  if (p.status === 'dnf' || p.status === 'error') return { ...p, value: NaN, low: NaN, high: NaN };
  return { ...p, value: 1, low: NaN, high: NaN, status: p.status === 'ok' ? 'reference' : p.status, label: p.label === '' ? 'ref.' : `ref., ${p.label}` };
}

/** A point whose label also counts failed runs (an OOM-killed tenant is an error sample). */
function groupPoint(r: SummaryRow, category: string, measure: 'relative' | 'absolute', byCell: Map<string, SummaryRow>): FigurePoint {
  const p = point(r, category, measure, byCell);
  const runs = r.n + r.dnf + r.errors;
  if (r.n > 0 && r.errors > 0) {
    const err = `${r.errors}/${runs} error`;
    return { ...p, status: p.status === 'ok' ? 'partial error' : p.status, label: p.label === '' ? err : `${p.label}, ${err}` };
  }
  return p;
}

/**
 * The figures of every group among `rows` (rows whose cell has a group in `info`). A group's
 * figures also draw the cells its cells are compared against when those belong to another group
 * (fig11's hard-limit cell can be fig9's ×1.5 cell).
 */
export function groupFigures(rows: readonly SummaryRow[], info: ReadonlyMap<string, CellInfo>, opts: FigureOptions = {}): FigureData[] {
  const order = opts.platformOrder ?? PLATFORM_ORDER;
  const byCell = new Map(rows.map((r) => [keyOf(r.cell, r.metric), r]));
  const infoOf = (cell: string) => info.get(cell) ?? {};
  const groups = distinct(rows.flatMap((r) => (infoOf(r.cell).group ? [infoOf(r.cell).group!] : [])));
  const suite = rows[0]?.suite ?? '';
  const out: FigureData[] = [];

  for (const group of groups) {
    const text = GROUPS[group] ?? { study: '', title: `group ${group}` };
    const members = rows.filter((r) => infoOf(r.cell).group === group);
    const referenced = new Set(members.filter((r) => r.reference !== '').map((r) => keyOf(r.reference, r.metric)));
    const roles: Role[] = members.map((r) => ({ row: r, info: infoOf(r.cell), role: r.reference !== '' && !referenced.has(keyOf(r.cell, r.metric)) ? 'compared' : 'reference' }));
    // the references of the compared cells that belong elsewhere (not the references of references)
    for (const k of distinct(roles.filter((x) => x.role === 'compared').map((x) => keyOf(x.row.reference, x.row.metric)))) {
      const ref = byCell.get(k);
      if (ref && infoOf(ref.cell).group !== group) roles.push({ row: ref, info: infoOf(ref.cell), role: 'reference' });
    }
    if (roles.length === 0) continue;

    // a setting is on the x axis when it varies within one platform's cells of one workload and metric;
    // one that varies only between platforms (kvm hard vs lxc soft) is said in the subtitle instead
    const within = (d: Dim) =>
      distinct(roles.map((x) => `${x.row.platform}\u0000${x.row.workload}\u0000${x.row.metric}`)).some(
        (pwm) => distinct(roles.filter((x) => `${x.row.platform}\u0000${x.row.workload}\u0000${x.row.metric}` === pwm).map((x) => d.key(x.row, x.info))).length > 1,
      );
    const onAxis = DIMS.filter(within);
    const fixed = DIMS.filter((d) => !onAxis.includes(d));
    const sortRoles = (xs: Role[]) =>
      [...xs].sort((a, b) => {
        for (const d of onAxis) {
          const c = d.rank(a.row, a.info) - d.rank(b.row, b.info);
          if (c !== 0) return c;
        }
        return 0;
      });
    const settingLabel = (x: Role) => [...onAxis].reverse().map((d) => d.label(x.row, x.info)).join(', ');

    // the subtitle: settings that do not vary on the axis, per platform where they differ between platforms
    const SUBTITLE_ORDER = ['overcommit', 'tenants', 'busy', 'neighbour', 'memoryLimit', 'cpuPolicy', 'cpusPerTenant'];
    const fixedText = [...fixed]
      .sort((a, b) => SUBTITLE_ORDER.indexOf(a.name) - SUBTITLE_ORDER.indexOf(b.name))
      // the defaults (no neighbour, every tenant busy) go without saying
      .filter((d) => (d.name !== 'neighbour' || roles.some((x) => x.row.neighbour_kind !== 'none')) && (d.name !== 'busy' || roles.some((x) => busyOf(x.info) !== 'all')) && (d.name !== 'cpusPerTenant' || roles.some((x) => x.info.cpusPerTenant !== undefined)))
      .map((d) => {
        const values = distinct(roles.map((x) => d.label(x.row, x.info)));
        if (values.length === 1) return values[0]!;
        const platforms = platformSort(distinct(roles.map((x) => x.row.platform)), order);
        return platforms.map((p) => `${p}: ${distinct(roles.filter((x) => x.row.platform === p).map((x) => d.label(x.row, x.info))).join('/')}`).join(', ');
      });
    const busyText = onAxis.some((d) => d.name === 'busy') ? '; all busy: every tenant runs the workload, one busy: only the measured tenant does (the others idle)' : '';
    const pooled = roles.some((x) => tenantsOf(x.info) > 1) ? '; a cell\u2019s value is over its tenants and repetitions' : '';

    // what the compared cells are relative to, and whether that is the axis the suite declared
    const compared = roles.filter((x) => x.role === 'compared');
    const words = distinct(
      compared.map((x) => {
        const ref = byCell.get(keyOf(x.row.reference, x.row.metric));
        return ref ? referenceWords(x.row, ref, x.info, infoOf(ref.cell)) : 'its reference cell (not measured)';
      }),
    );
    const refText = words.length === 1 ? words[0]! : words.length === 0 ? 'no reference' : 'each cell\u2019s reference';
    const strays = compared.filter((x) => {
      const ref = byCell.get(keyOf(x.row.reference, x.row.metric));
      if (!ref || x.info.referenceAxis === undefined) return false;
      const axes = differingAxes(x.row, ref, x.info, infoOf(ref.cell));
      const allowed = [x.info.referenceAxis, ...COMPANIONS[x.info.referenceAxis]];
      return !axes.includes(x.info.referenceAxis) || axes.some((a) => !allowed.includes(a));
    });
    const strayText = strays.length > 0 ? `; caveat: ${distinct(strays.map((x) => x.row.cell)).join(', ')} differ from their reference in other than the declared axis` : '';
    const mixed = distinct(compared.flatMap((x) => /ratio compares \S+ with \S+/.exec(x.row.note)?.[0] ?? []));
    const mixedText = mixed.length > 0 ? `; ${mixed.join(', ')} (different acceleration)` : '';
    const accel = accelText(roles.map((x) => x.row));
    const study = text.study ? ` (the study\u2019s ${text.study})` : '';
    const subtitle = (measure: 'relative' | 'absolute') =>
      `${fixedText.join(', ')}${busyText}${pooled}${accel}${measure === 'relative' ? mixedText : ''}; bars: mean, whiskers: 95% CI${measure === 'relative' ? '; ref.: the reference itself' : ''}${strayText}`;

    const relPoint = (x: Role, category: string) => (x.role === 'reference' ? referencePoint(x.row, category, byCell) : groupPoint(x.row, category, 'relative', byCell));
    const platformsOf = (xs: Role[]) => platformSort(distinct(xs.map((x) => x.row.platform)), order);

    // headline: the study's metrics of every workload side by side
    const workloads = distinct(roles.map((x) => x.row.workload));
    const headline = workloads.flatMap((w) => {
      const mine = roles.filter((x) => x.row.workload === w);
      const metrics = distinct(mine.map((x) => x.row.metric));
      const chosen = (HEADLINE_METRICS[w] ?? []).filter((m) => metrics.includes(m));
      const use = chosen.length > 0 ? chosen : metrics.slice(0, 1);
      return use.flatMap((m) => sortRoles(mine.filter((x) => x.row.metric === m)));
    });
    const headCategory = (x: Role) => {
      const s = settingLabel(x);
      return `${x.row.workload} (${x.row.metric})${s === '' ? '' : `: ${s}`}`;
    };
    out.push({
      id: slug(group),
      kind: 'group',
      group,
      measure: 'relative',
      title: `${suite}: ${text.title}, relative to ${refText}${study}`,
      subtitle: subtitle('relative'),
      xTitle: onAxis.length > 0 ? `workload (metric): ${[...onAxis].reverse().map((d) => d.name).join(', ')}` : 'workload (metric)',
      yTitle: 'relative performance (×, higher is better)',
      unit: 'x',
      categories: distinct(headline.map(headCategory)),
      platforms: platformsOf(headline),
      points: headline.map((x) => relPoint(x, headCategory(x))),
    });

    // per workload and metric: relative and absolute
    for (const wm of distinct(roles.map((x) => `${x.row.workload}\u0000${x.row.metric}`))) {
      const mine = sortRoles(roles.filter((x) => `${x.row.workload}\u0000${x.row.metric}` === wm));
      const first = mine[0]!.row;
      const category = (x: Role) => settingLabel(x) || `${x.row.workload} (${x.row.metric})`;
      const xTitle = onAxis.length > 0 ? [...onAxis].reverse().map((d) => d.name).join(', ') : 'workload (metric)';
      const base = slug(`${group}-${first.workload}-${first.metric}`);
      const direction = `${first.better} is better`;
      out.push({
        id: `${base}-relative`,
        kind: 'group',
        group,
        measure: 'relative',
        title: `${suite}: ${first.workload} ${first.metric} relative to ${refText}${study}`,
        subtitle: `${subtitle('relative')}; ${first.metric} in ${first.unit}, ${direction}, shown as relative performance`,
        xTitle,
        yTitle: 'relative performance (×, higher is better)',
        unit: 'x',
        categories: distinct(mine.map(category)),
        platforms: platformsOf(mine),
        points: mine.map((x) => relPoint(x, category(x))),
      });
      out.push({
        id: `${base}-absolute`,
        kind: 'group',
        group,
        measure: 'absolute',
        title: `${suite}: ${first.workload} ${first.metric} (${first.unit}, ${direction})${study}`,
        subtitle: subtitle('absolute'),
        xTitle,
        yTitle: `${first.metric} (${first.unit}, ${direction})`,
        unit: first.unit,
        categories: distinct(mine.map(category)),
        platforms: platformsOf(mine),
        points: mine.map((x) => groupPoint(x.row, category(x), 'absolute', byCell)),
      });
    }
  }
  return out;
}
