// The report of a comparison: compare.csv (one row per cell and metric), the terminal table and the
// Markdown report. Pure: compare-dirs.ts writes the files.
import type { Comparison, MetricComparison, Side } from './verdict.ts';
import type { RunInfo } from './comparable.ts';
import { formatNumber } from './summary.ts';

export const COMPARE_COLUMNS = [
  'suite',
  'cell',
  'platform',
  'workload',
  'neighbour_kind',
  'neighbour',
  'cpu_policy',
  'memory_limit',
  'overcommit',
  'metric',
  'unit',
  'better',
  'base_runs',
  'base_n',
  'base_mean',
  'base_sd',
  'base_cv',
  'base_dnf',
  'base_errors',
  'cand_runs',
  'cand_n',
  'cand_mean',
  'cand_sd',
  'cand_cv',
  'cand_dnf',
  'cand_errors',
  'ratio',
  'change_pct',
  'change_ci95_low_pct',
  'change_ci95_high_pct',
  'p',
  'p_adj',
  'min_p',
  'test',
  'reference_nights',
  'alpha',
  'threshold_pct',
  'verdict',
  'suspect',
  'reason',
  'notes',
] as const;

export function compareRecords(c: Comparison): (string | number)[][] {
  return c.rows.map((r) => {
    const f = formatNumber;
    const values: Record<(typeof COMPARE_COLUMNS)[number], string | number> = {
      suite: c.suite,
      cell: r.cell,
      platform: r.platform,
      workload: r.workload,
      neighbour_kind: r.neighbourKind,
      neighbour: r.neighbour,
      cpu_policy: r.cpuPolicy,
      memory_limit: r.memoryLimit,
      overcommit: f(r.overcommit),
      metric: r.metric,
      unit: r.unit,
      better: r.better,
      base_runs: r.base.runs,
      base_n: r.base.n,
      base_mean: f(r.base.mean),
      base_sd: f(r.base.sd),
      base_cv: f(r.base.cv),
      base_dnf: r.base.dnf,
      base_errors: r.base.errors,
      cand_runs: r.cand.runs,
      cand_n: r.cand.n,
      cand_mean: f(r.cand.mean),
      cand_sd: f(r.cand.sd),
      cand_cv: f(r.cand.cv),
      cand_dnf: r.cand.dnf,
      cand_errors: r.cand.errors,
      ratio: f(r.ratio),
      change_pct: f(r.changePct),
      change_ci95_low_pct: f(r.changeLowPct),
      change_ci95_high_pct: f(r.changeHighPct),
      p: f(r.p),
      p_adj: f(r.pAdj),
      min_p: f(r.minP),
      test: r.test,
      reference_nights: r.test === 'between-night' ? r.nights : 1,
      alpha: f(r.alpha),
      threshold_pct: f(r.threshold * 100),
      verdict: r.verdict,
      suspect: r.suspect ? 'yes' : 'no',
      reason: r.reason,
      notes: r.notes.join('; '),
    };
    return COMPARE_COLUMNS.map((k) => values[k]);
  });
}

/** Short display of numbers: 4 significant digits, no exponent for ordinary magnitudes. */
export function short(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e7) return String(Number(x.toPrecision(digits)));
  return x.toPrecision(digits);
}

function pctOrDash(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}%` : '-';
}

function sideText(s: Side, unit: string): string {
  if (s.n === 0) return s.dnf > 0 ? `DNF ${s.dnf}/${s.runs}` : s.errors > 0 ? `error ${s.errors}/${s.runs}` : '-';
  const cv = Number.isFinite(s.cv) ? ` (${(s.cv * 100).toFixed(1)}%)` : '';
  const dnf = s.dnf > 0 ? ` +${s.dnf} DNF` : '';
  return `${short(s.mean)} ${unit}${cv} n=${s.n}${dnf}`;
}

function ciText(r: MetricComparison): string {
  if (!Number.isFinite(r.changeLowPct) || !Number.isFinite(r.changeHighPct)) return '-';
  return `[${pctOrDash(r.changeLowPct)}, ${pctOrDash(r.changeHighPct)}]`;
}

function pText(r: MetricComparison): string {
  return Number.isFinite(r.pAdj) && r.pAdj !== r.p ? `${short(r.p, 2)} (${short(r.pAdj, 2)})` : short(r.p, 2);
}

function verdictText(r: MetricComparison): string {
  if (r.verdict === 'regression') return 'REGRESSION';
  if (r.verdict === 'no change' && r.suspect) return 'no change (suspect)';
  return r.verdict;
}

/** Cell ids shortened by dropping the id segments that every compared cell shares (kept: platform, workload, neighbour). */
export function shortCellIds(cells: readonly string[]): { short: Map<string, string>; common: string } {
  const parts = cells.map((c) => c.split('/'));
  const width = Math.max(0, ...parts.map((p) => p.length));
  const drop = new Set<number>();
  for (let i = 3; i < width; i++) {
    const vals = new Set(parts.map((p) => p[i]));
    if (vals.size === 1 && parts.every((p) => p.length === width)) drop.add(i);
  }
  const short = new Map(cells.map((c, k) => [c, parts[k]!.filter((_, i) => !drop.has(i)).join('/')]));
  const common = [...drop].sort((a, b) => a - b).map((i) => parts[0]![i]).join('/');
  return { short, common };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function headline(c: Comparison): string {
  const suspects = c.rows.filter((r) => r.suspect && r.verdict !== 'regression').length;
  const notCompared = c.rows.filter((r) => r.verdict === 'not compared').length;
  const parts = [
    c.regressions > 0 ? `REGRESSION: ${c.regressions} of ${c.rows.length} cell metrics regressed` : `no regression in ${c.rows.length} cell metrics`,
    `${c.improvements} improved`,
  ];
  if (suspects > 0) parts.push(`${suspects} suspect (beyond threshold, not significant)`);
  if (notCompared > 0) parts.push(`${notCompared} not compared`);
  return parts.join('; ');
}

function thresholdText(c: Comparison): string {
  const over = Object.entries(c.thresholds).map(([m, t]) => `${m} ${(t * 100).toFixed(1)}%`);
  return `${(c.threshold * 100).toFixed(1)}%${over.length ? ` (${over.join(', ')})` : ''}`;
}

/** How the p-values were obtained and what alpha bounds. */
function testText(c: Comparison): string {
  const how =
    c.referenceDirs.length > 1
      ? `tonight's mean against the spread of ${c.referenceDirs.length} reference nights' means (Student t, ${c.referenceDirs.length - 1} df)`
      : `two-sided permutation test on the difference of means against one run (seed ${c.seed})`;
  const fam = c.family === 'holm' ? `alpha ${c.alpha} for the whole night (Holm over ${c.rows.filter((r) => Number.isFinite(r.pAdj) && r.verdict !== 'ignored').length} tests)` : `alpha ${c.alpha} per test (no family-wise control)`;
  return `${how}; ${fam}`;
}

function runLine(r: RunInfo): string {
  return `${r.dir} (${r.host}, ${r.created || 'unknown date'}, commit ${r.commit.slice(0, 12)}${r.dirty ? ' dirty' : ''})`;
}

/** The readable table for the terminal (plain text, no colour). */
export function formatTerminal(c: Comparison): string {
  const { short: ids, common } = shortCellIds(c.rows.map((r) => r.cell));
  const out: string[] = [];
  out.push(`virtbench compare, suite ${c.suite}`);
  out.push(`  baseline:  ${runLine(c.baseline)}`);
  out.push(`  candidate: ${runLine(c.candidate)}`);
  out.push(`  ${testText(c)}, noise threshold ${thresholdText(c)}${c.toleranceFile ? `, from ${c.toleranceFile}` : ''}`);
  if (common) out.push(`  every cell: .../${common}`);
  out.push('');
  out.push(
    table(
      ['cell', 'metric', 'baseline mean (cv) n', 'candidate mean (cv) n', 'change', '95% CI', 'p (Holm)', 'verdict'],
      c.rows.map((r) => [ids.get(r.cell)!, r.metric, sideText(r.base, r.unit), sideText(r.cand, r.unit), pctOrDash(r.changePct), ciText(r), pText(r), verdictText(r)]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['metric', 'better', 'cells', 'geomean cand/base', 'regressed', 'improved', 'suspect'],
      c.metrics.map((m) => [`${m.metric} [${m.unit}]`, m.better, String(m.cells), Number.isFinite(m.geomeanRatio) ? `${m.geomeanRatio.toFixed(3)} (${pctOrDash((m.geomeanRatio - 1) * 100)})` : '-', String(m.regressions), String(m.improvements), String(m.suspect)]),
    ),
  );
  const flagged = c.rows.filter((r) => r.verdict === 'regression' || r.verdict === 'improvement' || r.suspect || r.verdict === 'not compared');
  if (flagged.length > 0) {
    out.push('');
    for (const r of flagged) out.push(`${verdictText(r)}: ${ids.get(r.cell)} ${r.metric}: ${r.reason}`);
  }
  if (c.onlyInBaseline.length > 0) out.push('', `only in the baseline: ${c.onlyInBaseline.join(', ')}`);
  if (c.onlyInCandidate.length > 0) out.push('', `only in the candidate: ${c.onlyInCandidate.join(', ')}`);
  const rowNotes = c.rows.flatMap((r) => r.notes.map((n) => `${ids.get(r.cell)} ${r.metric}: ${n}`));
  for (const n of [...c.notes, ...rowNotes]) out.push(`note: ${n}`);
  out.push('', headline(c));
  return out.join('\n') + '\n';
}

function md(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

/** A short Markdown report: headline, what was compared and how, regressions first, then every row. */
export function formatMarkdown(c: Comparison): string {
  const { short: ids, common } = shortCellIds(c.rows.map((r) => r.cell));
  const out: string[] = [];
  out.push(`# virtbench compare: ${c.suite}`, '');
  out.push(`**${headline(c)}**`, '');
  out.push(`- Baseline: \`${c.baseline.dir}\` (${c.baseline.host}, ${c.baseline.created}, commit ${c.baseline.commit.slice(0, 12)}${c.baseline.dirty ? ' dirty' : ''})`);
  out.push(`- Candidate: \`${c.candidate.dir}\` (${c.candidate.host}, ${c.candidate.created}, commit ${c.candidate.commit.slice(0, 12)}${c.candidate.dirty ? ' dirty' : ''})`);
  out.push(`- Test: ${testText(c)}; noise threshold ${thresholdText(c)}${c.toleranceFile ? ` from \`${c.toleranceFile}\`` : ''}`);
  if (c.referenceDirs.length > 1) out.push(`- Reference nights: ${c.referenceDirs.map((d) => `\`${d}\``).join(', ')}`);
  if (c.ignore.length > 0) out.push(`- Ignored: ${c.ignore.join('; ')}`);
  out.push(`- Change = mean(candidate) / mean(baseline) - 1, 95% CI by Fieller's theorem; cv = sd / mean${common ? `; every cell ends in \`/${common}\`` : ''}`);
  out.push('');
  const flagged = c.rows.filter((r) => r.verdict === 'regression' || r.verdict === 'improvement' || r.suspect);
  if (flagged.length > 0) {
    out.push('## Flagged', '');
    out.push(mdTable(['verdict', 'cell', 'metric', 'change', '95% CI', 'p (Holm)', 'why'], flagged.map((r) => [verdictText(r), ids.get(r.cell)!, r.metric, pctOrDash(r.changePct), ciText(r), pText(r), r.reason])));
    out.push('');
  }
  out.push('## Per metric', '');
  out.push(
    mdTable(
      ['metric', 'unit', 'better', 'cells', 'geomean cand/base', 'regressed', 'improved', 'suspect', 'ignored', 'not compared'],
      c.metrics.map((m) => [m.metric, m.unit, m.better, String(m.cells), Number.isFinite(m.geomeanRatio) ? m.geomeanRatio.toFixed(3) : '-', String(m.regressions), String(m.improvements), String(m.suspect), String(m.ignored), String(m.notCompared)]),
    ),
  );
  out.push('', '## Every cell', '');
  const ms = (s: Side) => (s.n === 0 ? (s.dnf > 0 ? `DNF ${s.dnf}/${s.runs}` : '-') : short(s.mean));
  out.push(
    mdTable(
      ['cell', 'metric', 'unit', 'base mean', 'base sd', 'base cv', 'base n', 'cand mean', 'cand sd', 'cand cv', 'cand n', 'change', '95% CI', 'p (Holm)', 'verdict'],
      c.rows.map((r) => [
        ids.get(r.cell)!,
        r.metric,
        r.unit,
        ms(r.base),
        short(r.base.sd),
        Number.isFinite(r.base.cv) ? `${(r.base.cv * 100).toFixed(1)}%` : '-',
        `${r.base.n}${r.base.dnf ? ` (+${r.base.dnf} DNF)` : ''}`,
        ms(r.cand),
        short(r.cand.sd),
        Number.isFinite(r.cand.cv) ? `${(r.cand.cv * 100).toFixed(1)}%` : '-',
        `${r.cand.n}${r.cand.dnf ? ` (+${r.cand.dnf} DNF)` : ''}`,
        pctOrDash(r.changePct),
        ciText(r),
        pText(r),
        verdictText(r),
      ]),
    ),
  );
  if (c.onlyInBaseline.length > 0 || c.onlyInCandidate.length > 0) {
    out.push('', '## Cells in one run only', '');
    for (const x of c.onlyInBaseline) out.push(`- baseline only: \`${x}\``);
    for (const x of c.onlyInCandidate) out.push(`- candidate only: \`${x}\``);
  }
  const rowNotes = c.rows.flatMap((r) => r.notes.map((n) => `${ids.get(r.cell)} ${r.metric}: ${n}`));
  if (c.notes.length + rowNotes.length > 0) {
    out.push('', '## Notes', '');
    for (const n of [...c.notes, ...rowNotes]) out.push(`- ${n}`);
  }
  return out.join('\n') + '\n';
}
