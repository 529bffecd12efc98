// The one reader of samples.jsonl, shared by analyze, compare, baseline, figures, export and the
// runner: every line is checked to be a Sample whose fields the statistics rely on (finite numbers,
// a known status and direction), so that a bad file is refused with its file and line before any
// number is computed, instead of crashing a test deep inside (an infinite value) or being read two
// ways by two commands (an unknown `better`).
import { readFile } from 'node:fs/promises';
import { UsageError } from '../core/errors.ts';
import type { Sample } from '../core/types.ts';

export interface ReadSamplesResult {
  samples: Sample[];
  /** 1-based number of a cut-off last line (no newline after it, not valid JSON) that was ignored. */
  ignoredLastLine?: number;
}

const STATUSES = ['ok', 'dnf', 'error'];
const BETTER = ['lower', 'higher'];
const STRING_FIELDS = ['suite', 'cell', 'platform', 'workload', 'metric', 'unit', 'accel'] as const;
const NUMBER_FIELDS = ['overcommit', 'vcpus', 'memoryBytes'] as const;
const OPTIONAL_NUMBER_FIELDS = ['bootSeconds'] as const;

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Why a parsed line is not a Sample, or undefined when it is one. */
export function sampleProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'not a JSON object';
  const o = x as Record<string, unknown>;
  for (const f of STRING_FIELDS) if (typeof o[f] !== 'string' || o[f] === '') return `field "${f}" is not a non-empty string`;
  if (typeof o.warmup !== 'boolean') return 'field "warmup" is not a boolean';
  if (typeof o.status !== 'string' || !STATUSES.includes(o.status)) return `field "status" is ${JSON.stringify(o.status)}, not ok|dnf|error`;
  if (typeof o.better !== 'string' || !BETTER.includes(o.better)) return `field "better" is ${JSON.stringify(o.better)}, not lower|higher`;
  if (!Number.isInteger(o.rep) || (o.rep as number) < 0) return 'field "rep" is not a whole number';
  for (const f of NUMBER_FIELDS) if (!finite(o[f])) return `field "${f}" is not a finite number`;
  for (const f of OPTIONAL_NUMBER_FIELDS) if (o[f] !== undefined && !finite(o[f])) return `field "${f}" is not a finite number`;
  // JSON has no Infinity, but 1e999 parses to it: a value is a finite number or null
  if (o.value !== null && !finite(o.value)) return 'field "value" is not a finite number (nor null)';
  if (o.status === 'ok' && o.value === null) return "status is 'ok' but value is null";
  if (o.reference !== undefined && typeof o.reference !== 'string') return 'field "reference" is not a string';
  return undefined;
}

/**
 * Parse the text of a samples.jsonl (`file` names it in messages). Blank lines are skipped. A last
 * line with no newline after it that is not valid JSON is a write cut off by a crash: it is ignored
 * and reported in ignoredLastLine. Every other line that is not valid JSON, or not a Sample, throws a
 * UsageError naming the file and line (a complete line was written whole: if it is not JSON, the
 * file is corrupt, not interrupted).
 */
export function parseSamples(text: string, file: string): ReadSamplesResult {
  const lines = text.split('\n');
  // text.split leaves '' after a final newline: the last line is complete exactly when it does
  const endsWithNewline = text.endsWith('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last]!.trim() === '') last--;
  const samples: Sample[] = [];
  for (let i = 0; i <= last; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      if (i === last && !endsWithNewline && i === lines.length - 1) return { samples, ignoredLastLine: i + 1 };
      throw new UsageError(`${file}:${i + 1}: corrupt line, not valid JSON (${(err as Error).message})`);
    }
    const problem = sampleProblem(parsed);
    if (problem) throw new UsageError(`${file}:${i + 1}: not a sample: ${problem}`);
    samples.push(parsed as Sample);
  }
  return { samples };
}

/** Read and check a samples.jsonl (see parseSamples). */
export async function readSamplesJsonl(file: string): Promise<ReadSamplesResult> {
  return parseSamples(await readFile(file, 'utf8'), file);
}
