// Runs beyond the plan: --reps auto's adaptive rounds (only the cells whose values are still too
// spread) and --compare-to's recheck (only the cells compare suspects, before its verdict).
import { adaptiveRecord, cellsNeedingMore, decideRepetitions, extraRound, type AdaptiveReason, type AdaptiveRecord } from '../analysis/adaptive.ts';
import { compareDirs } from '../analysis/compare-dirs.ts';
import { suspectCells } from '../analysis/compare.ts';
import { readSamplesJsonl } from '../analysis/summary.ts';
import { join } from 'node:path';
import type { PlannedRun } from '../core/matrix.ts';
import type { RunOptions } from '../core/options.ts';
import { SAMPLES } from '../core/results.ts';
import type { Cell, Sample } from '../core/types.ts';
import { AUTO_BUDGET_S } from './plan.ts';

/** Samples recorded so far in `dir` (a cut-off last line cannot happen here: the writer fsyncs whole lines). */
async function recorded(dir: string): Promise<Sample[]> {
  return (await readSamplesJsonl(join(dir, SAMPLES))).samples;
}

/**
 * --reps auto: after the initial rounds, rounds of only the cells that still need more (CoV above the
 * threshold, or an outlier), each round interleaved, until every cell is settled or at its cap.
 * Returns, per cell, which reasons led to more repetitions ('cap reached' when it stopped there).
 */
export async function adaptiveRounds(cells: Cell[], opts: RunOptions, dir: string, runAll: (r: PlannedRun[]) => Promise<void>, signal: AbortSignal, log: (l: string) => void): Promise<AdaptiveRecord[]> {
  const seen = new Map<string, Set<AdaptiveReason>>();
  for (let round = 1; ; round++) {
    const samples = await recorded(dir);
    const decisions = decideRepetitions(samples, { minReps: opts.reps, budgetS: AUTO_BUDGET_S[opts.profile] }, cells.map((c) => c.id));
    for (const d of decisions) {
      const set = seen.get(d.cell) ?? new Set();
      for (const r of d.reasons) set.add(r);
      seen.set(d.cell, set);
    }
    const more = new Set(cellsNeedingMore(decisions));
    if (more.size === 0 || signal.aborted) {
      for (const d of decisions) log(`reps auto: ${d.cell}: ${d.detail}`);
      return decisions.map((d) => ({ ...adaptiveRecord(d), reasons: [...(seen.get(d.cell) ?? [])] }));
    }
    for (const d of decisions.filter((x) => x.more)) log(`reps auto: ${d.cell}: ${d.detail}`);
    await runAll(extraRound(cells.filter((c) => more.has(c.id)), samples, opts.seed + round));
  }
}

export interface Verdict {
  exitCode: 0 | 1 | 2;
  report: string;
  recheck?: { cells: string[]; extraReps: number };
}

/**
 * --compare-to: compare the run with the baseline; when compare suspects a regression (a regression,
 * or a change beyond the threshold in the bad direction that is not yet significant), run only the
 * suspect cells again (as many interleaved rounds as the initial repetitions) and compare again.
 */
export async function compareWithRecheck(baseline: string, dir: string, cells: Cell[], opts: RunOptions, runAll: (r: PlannedRun[]) => Promise<void>, signal: AbortSignal, log: (l: string) => void): Promise<Verdict> {
  const first = await compareDirs(baseline, dir, { allowPartial: true });
  const suspects = first.comparison ? suspectCells(first.comparison) : [];
  if (suspects.length === 0 || signal.aborted) return first;
  log(`compare: ${suspects.length} suspect cell(s); ${opts.reps} more interleaved run(s) each before the verdict: ${suspects.join(', ')}`);
  const again = cells.filter((c) => suspects.includes(c.id));
  for (let round = 1; round <= opts.reps && !signal.aborted; round++) await runAll(extraRound(again, await recorded(dir), opts.seed + 1000 + round));
  if (signal.aborted) return first;
  return { ...(await compareDirs(baseline, dir, { allowPartial: true })), recheck: { cells: suspects, extraReps: opts.reps } };
}
