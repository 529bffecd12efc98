// The planned runs in their order, one after another: each one measured, its samples appended
// (fsynced) as it ends, its outcome on the progress line. An aborted run (Ctrl-C) is not data: it
// writes nothing and no further run starts.
import type { PlannedRun } from '../core/matrix.ts';
import { Progress } from '../core/progress.ts';
import type { SampleWriter } from '../core/results.ts';
import type { Profile } from '../core/types.ts';
import { measure, type RunEnv } from './measure.ts';

export interface Loop {
  env: RunEnv;
  /** The profile each platform's runs use (under TCG a longer timeout). */
  profiles: Record<string, Profile>;
  writer: SampleWriter;
  signal: AbortSignal;
  /** Planned seconds of one run, for the ETA. */
  estimateS: (run: PlannedRun) => number;
  /** Where progress goes (default stderr). */
  progressOut?: NodeJS.WriteStream;
}

/** Runs `todo`; returns how many of its runs ended in error. */
export async function runPlanned(todo: PlannedRun[], loop: Loop): Promise<number> {
  const perRun = todo.reduce((s, r) => s + loop.estimateS(r), 0) / Math.max(1, todo.length);
  const progress = new Progress(todo.length, perRun, loop.progressOut);
  let errors = 0;
  try {
    for (const run of todo) {
      if (loop.signal.aborted) break;
      progress.begin(`${run.cell.id} ${run.warmup ? 'warm-up' : 'rep'} ${run.rep}`);
      const samples = await measure(run, loop.env, loop.profiles[run.cell.platform]!, loop.signal, progress.log.bind(progress));
      if (loop.signal.aborted) break; // an interrupted run is not data
      loop.writer.append(samples);
      // a multi-tenant run is as bad as its worst tenant (an OOM-killed tenant is an error of the run)
      const first = samples.find((s) => s.status === 'error') ?? samples.find((s) => s.status === 'dnf') ?? samples[0]!;
      if (first.status === 'error') errors++;
      const shown = samples.map((s) => (s.value === null ? `${s.metric}=${s.status}` : `${s.metric}=${+s.value.toPrecision(4)}${s.unit}`)).join(' ');
      progress.end(`${first.status === 'ok' ? 'ok ' : first.status.toUpperCase()} ${run.cell.id} ${run.warmup ? 'warm-up' : 'rep'} ${run.rep}: ${shown}${first.message ? ` (${first.message})` : ''}`);
    }
  } finally {
    progress.finish();
  }
  return errors;
}
