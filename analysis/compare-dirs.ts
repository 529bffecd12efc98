// compareDirs: load a baseline and a candidate result directory (and the accepted nights before the
// baseline: an accepted baseline's history/, or directories given), read the tolerance file beside
// the baseline, compare, write compare.csv and compare.md (into the candidate directory by default)
// and return the exit code and the terminal report. Used by `npm run compare` and by the suite
// runner's --compare-to baseline.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../core/atomic.ts';
import { MANIFEST } from '../core/results.ts';
import { UsageError } from '../core/errors.ts';
import { COMPARE_COLUMNS, DEFAULT_NIGHTS, compareRecords, compareRuns, formatMarkdown, formatTerminal, namesOf, type Comparison } from './compare.ts';
import type { Sample } from '../core/types.ts';
import { loadRun, type LoadOptions, type LoadedRun } from './resultdir.ts';
import { TOLERANCE_FILE, readTolerance } from './tolerance.ts';

export interface CompareDirsOptions extends LoadOptions {
  /** Tolerance file; default: tolerance.txt in the baseline directory (defaults when absent). */
  tolerance?: string;
  /** Override the file's alpha. */
  alpha?: number;
  /** Override the file's default noise threshold (relative: 0.05 = 5%); per-metric thresholds stay. */
  threshold?: number;
  /** Seed of the permutation resampler (default 1). */
  seed?: number;
  /** Directory for compare.csv and compare.md; default: the candidate directory; false: write nothing. */
  out?: string | false;
  allowOtherHost?: boolean;
  /**
   * Compare every neighbour cell of the candidate with its no-neighbour reference cell in the
   * baseline (which may be the same directory): how much a neighbour slows the workload.
   */
  vsReference?: boolean;
  /**
   * Earlier reference nights, newest first. Default: when the baseline is an accepted baseline, the
   * nights in its history/ (newest first); otherwise none.
   */
  history?: string[];
  /** Reference nights at most, the baseline included (default DEFAULT_NIGHTS). */
  nights?: number;
  /** Family-wise control over the night's tests (default 'holm'); 'none' judges each test alone. */
  family?: 'holm' | 'none';
}

/** The nights an accepted baseline replaced (history/<stamp>/), newest first. */
export function baselineHistory(baselineDir: string): string[] {
  const h = join(baselineDir, 'history');
  if (!existsSync(h)) return [];
  return readdirSync(h)
    .filter((d) => existsSync(join(h, d, MANIFEST)))
    .sort()
    .reverse()
    .map((d) => join(h, d));
}

/**
 * For --vs-reference: the candidate keeps its cells that have a reference; the baseline's reference
 * cells are copied under the id of every candidate cell that refers to them, so that rows match.
 */
export function againstReference(base: LoadedRun, cand: LoadedRun): [LoadedRun, LoadedRun] {
  const candCells = new Map<string, Sample>();
  for (const s of cand.measured) if (s.reference && !candCells.has(s.cell)) candCells.set(s.cell, s);
  if (candCells.size === 0) throw new UsageError(`--vs-reference: ${cand.dir} has no cell with a neighbour (only reference cells)`);
  const samples: Sample[] = [];
  for (const c of candCells.values()) {
    const ref = base.measured.filter((s) => s.cell === c.reference);
    samples.push(...ref.map((s) => ({ ...s, cell: c.cell, neighbourKind: c.neighbourKind, neighbour: c.neighbour, reference: c.reference })));
  }
  if (samples.length === 0) throw new UsageError(`--vs-reference: ${base.dir} has none of the reference cells of ${cand.dir} (${[...new Set([...candCells.values()].map((c) => c.reference))].join(', ')})`);
  const measured = cand.measured.filter((s) => candCells.has(s.cell));
  return [
    { ...base, samples, measured: samples },
    { ...cand, samples: measured, measured },
  ];
}

export interface CompareDirsResult {
  /** 0 nothing regressed, 1 a regression, 2 bad input (the report is then one line saying why). */
  exitCode: 0 | 1 | 2;
  /** The terminal report (or the one-line error). */
  report: string;
  markdown?: string;
  comparison?: Comparison;
  /** Files written. */
  files: string[];
}

export const COMPARE_CSV = 'compare.csv';
export const COMPARE_MD = 'compare.md';

/** Never throws for a user's mistake: a UsageError becomes exitCode 2 with a one-line report. */
export async function compareDirs(baseline: string, candidate: string, opts: CompareDirsOptions = {}): Promise<CompareDirsResult> {
  try {
    let base = await loadRun(baseline, { allowPartial: false });
    let cand = await loadRun(candidate, opts);
    const maxNights = opts.nights ?? DEFAULT_NIGHTS;
    const historyDirs = (opts.history ?? (opts.vsReference ? [] : baselineHistory(base.dir))).slice(0, Math.max(0, maxNights - 1));
    const history = await Promise.all(historyDirs.map((d) => loadRun(d, { allowPartial: false })));
    if (opts.vsReference) [base, cand] = againstReference(base, cand);
    const names = namesOf(base, cand, ...history);
    const tolFile = opts.tolerance ?? join(base.dir, TOLERANCE_FILE);
    const tolerance = readTolerance(tolFile, names, opts.tolerance !== undefined);
    if (opts.alpha !== undefined) tolerance.alpha = opts.alpha;
    if (opts.threshold !== undefined) tolerance.threshold = opts.threshold;
    const comparison = compareRuns(base, cand, { tolerance, seed: opts.seed ?? 1, allowOtherHost: opts.allowOtherHost, history, nights: maxNights, family: opts.family });
    if (opts.vsReference) comparison.notes.unshift(`--vs-reference: the baseline side of each row is the no-neighbour reference cell of ${base.dir}; the rows are the candidate's neighbour cells`);
    const report = formatTerminal(comparison);
    const markdown = formatMarkdown(comparison);
    const files: string[] = [];
    if (opts.out !== false) {
      const out = resolve(opts.out ?? cand.dir);
      mkdirSync(out, { recursive: true });
      const csv = join(out, COMPARE_CSV);
      writeFileAtomic(csv, stringify(compareRecords(comparison), { header: true, columns: [...COMPARE_COLUMNS] }));
      const mdFile = join(out, COMPARE_MD);
      writeFileAtomic(mdFile, markdown);
      files.push(csv, mdFile);
    }
    return { exitCode: comparison.exitCode, report, markdown, comparison, files };
  } catch (err) {
    if (err instanceof UsageError) return { exitCode: 2, report: `virtbench: ${err.message}\n`, files: [] };
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { exitCode: 2, report: `virtbench: ${(err as Error).message.split('\n')[0]}\n`, files: [] };
    throw err;
  }
}
