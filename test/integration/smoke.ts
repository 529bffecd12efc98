// Running a suite at the smoke profile as a user would (the CLI, a fresh result directory) and the
// checks every such run must pass: a summary row with every column for every cell, nothing left.
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SUMMARY_COLUMNS } from '../../analysis/summary.ts';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';

export const suiteCli = (args: string[]) => execa(process.execPath, ['--import', 'tsx', 'cli/suite.ts', ...args], { reject: false, all: true, env: { CI: '1' } });

export function parseCsv(text: string): Record<string, string>[] {
  const [head, ...rows] = text.trim().split('\n');
  const cols = head!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i]!, v])));
}

export interface SmokeRun {
  exitCode: number | undefined;
  /** The last lines the harness printed, for assertion messages. */
  tail: string;
  minutes: number;
  dir: string;
  manifest: Manifest;
  samples: Sample[];
  header: string[];
  rows: Record<string, string>[];
}

/** `npm run suite <suite> -- --profile smoke --seed 1 <args>` into a temporary results root. */
export async function smokeRun(suite: string, args: string[]): Promise<SmokeRun> {
  const out = tempDir(`vb-${suite}-`);
  const t0 = Date.now();
  const r = await suiteCli([suite, '--profile', 'smoke', '--seed', '1', '--out', out, ...args]);
  const minutes = (Date.now() - t0) / 60000;
  const tail = (r.all ?? '').split('\n').slice(-30).join('\n');
  const stamps = readdirSync(join(out, suite));
  if (stamps.length !== 1) throw new Error(`expected one result directory, got ${stamps.length}:\n${tail}`);
  const dir = join(out, suite, stamps[0]!);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const samples = readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample);
  const csv = readFileSync(join(dir, 'summary.csv'), 'utf8');
  return { exitCode: r.exitCode, tail, minutes, dir, manifest, samples, header: csv.split('\n')[0]!.split(','), rows: parseCsv(csv) };
}

/**
 * Every cell has a summary row with the documented columns; with 2 or more repetitions every
 * statistic has a value; every cell with a reference has a ratio (a count that stayed 0, such as
 * RUBiS errors, has no CV and no ratio: 0/0).
 */
export function checkSummary(t: ExecutionContext, run: SmokeRun, reps: number): void {
  t.deepEqual(run.header, [...SUMMARY_COLUMNS]);
  t.deepEqual([...new Set(run.rows.map((x) => x.cell))].sort(), run.manifest.cells.map((c) => c.id).sort(), 'a row for every cell');
  const meanOf = new Map(run.rows.map((x) => [`${x.cell} ${x.metric}`, Number(x.mean)]));
  for (const row of run.rows) {
    const what = `${row.cell} ${row.metric}`;
    t.is(row.n, String(reps), what);
    t.not(row.mean, '', `${what} mean`);
    if (reps >= 2) {
      for (const col of ['sd', 'median', 'min', 'max', 'ci95_low', 'ci95_high']) t.not(row[col], '', `${what} ${col}`);
      if (Number(row.mean) !== 0) t.not(row.cv, '', `${what} cv`);
    }
    if (row.reference && meanOf.get(`${row.reference} ${row.metric}`) !== 0) t.not(row.ratio, '', `${what} ratio`);
  }
}
