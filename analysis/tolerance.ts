// The tolerance file kept beside a baseline (results/baselines/<suite>/<host>/tolerance.txt):
// the significance level, the default noise threshold, per-metric thresholds and metrics (or
// cells) that are reported but never judged. A simple line format so that a mistake can be named
// by file and line:
//
//   # comment (also after a setting)
//   alpha 0.01                      significance level of the whole comparison (Holm over its tests), in (0, 0.5]
//   threshold 5%                    default noise threshold: relative changes up to it never fail
//   threshold wall_s 8%             threshold of one metric
//   ignore latency_ms               a metric that is reported but never judged
//   ignore * lxc/filebench/*        every metric of the cells matching a pattern ('*' = any text)
//   ignore ops_s kvm/*              one metric in the cells matching a pattern
//
// Metrics must exist in the runs compared and cell patterns must match a cell of them: a typo is an
// error, not a silently ignored line.
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.ts';

export const TOLERANCE_FILE = 'tolerance.txt';

export const DEFAULT_ALPHA = 0.01;
export const DEFAULT_THRESHOLD = 0.05;

export interface IgnoreRule {
  /** Metric name, or '*' for every metric. */
  metric: string;
  /** Cell id pattern with '*' wildcards; undefined = every cell. */
  cells?: string;
  /** Where the rule came from ('file:line'), for the report. */
  source: string;
}

export interface Tolerance {
  alpha: number;
  /** Default relative noise threshold (0.05 = 5%). */
  threshold: number;
  /** Per-metric relative thresholds. */
  thresholds: Record<string, number>;
  ignore: IgnoreRule[];
  /** The file read, if any. */
  file?: string;
}

export function defaultTolerance(): Tolerance {
  return { alpha: DEFAULT_ALPHA, threshold: DEFAULT_THRESHOLD, thresholds: {}, ignore: [] };
}

/** What the file's names are checked against: the metrics and cell ids of the runs compared. */
export interface ToleranceContext {
  metrics: readonly string[];
  cells: readonly string[];
}

function percent(text: string, where: string): number {
  const m = text.match(/^(\d+(?:\.\d+)?)%$/);
  if (!m) throw new UsageError(`${where}: threshold must be a percentage such as 5% or 2.5%, got '${text}'`);
  const v = Number(m[1]) / 100;
  if (!(v >= 0 && v < 10)) throw new UsageError(`${where}: threshold must be between 0% and 1000%, got '${text}'`);
  return v;
}

export function globToRegExp(pattern: string): RegExp {
  const body = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

/**
 * Parse the text of a tolerance file. `name` is used in messages ('name:line: ...'). Throws
 * UsageError naming the line for an unknown key, a bad number, an unknown metric or a cell pattern
 * that matches no cell of `ctx`.
 */
export function parseTolerance(text: string, name: string, ctx: ToleranceContext): Tolerance {
  const tol: Tolerance = { ...defaultTolerance(), file: name };
  const metrics = new Set(ctx.metrics);
  const known = () => [...metrics].sort().join(', ') || '(none)';
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const where = `${name}:${i + 1}`;
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const [key, ...args] = line.split(/\s+/);
    const once = (k: string) => {
      const prev = seen.get(k);
      if (prev !== undefined) throw new UsageError(`${where}: '${k}' is already set on line ${prev}`);
      seen.set(k, i + 1);
    };
    const metricKnown = (m: string) => {
      if (!metrics.has(m)) throw new UsageError(`${where}: unknown metric '${m}'; metrics of the runs compared: ${known()}`);
    };
    switch (key) {
      case 'alpha': {
        if (args.length !== 1) throw new UsageError(`${where}: expected 'alpha <level>', e.g. 'alpha 0.01'`);
        const v = Number(args[0]);
        if (!/^\d*\.?\d+(e-?\d+)?$/i.test(args[0]!) || !(v > 0 && v <= 0.5)) throw new UsageError(`${where}: alpha must be a number in (0, 0.5], got '${args[0]}'`);
        once('alpha');
        tol.alpha = v;
        return;
      }
      case 'threshold': {
        if (args.length === 1) {
          once('threshold');
          tol.threshold = percent(args[0]!, where);
        } else if (args.length === 2) {
          metricKnown(args[0]!);
          once(`threshold ${args[0]}`);
          tol.thresholds[args[0]!] = percent(args[1]!, where);
        } else {
          throw new UsageError(`${where}: expected 'threshold <pct>' or 'threshold <metric> <pct>', e.g. 'threshold wall_s 8%'`);
        }
        return;
      }
      case 'ignore': {
        if (args.length < 1 || args.length > 2) throw new UsageError(`${where}: expected 'ignore <metric>' or 'ignore <metric|*> <cell pattern>'`);
        const [metric, cells] = args as [string, string | undefined];
        if (metric !== '*') metricKnown(metric);
        else if (cells === undefined) throw new UsageError(`${where}: 'ignore *' needs a cell pattern (ignoring every metric of every cell would judge nothing)`);
        if (cells !== undefined) {
          const re = globToRegExp(cells);
          if (!ctx.cells.some((c) => re.test(c))) throw new UsageError(`${where}: cell pattern '${cells}' matches no cell of the runs compared`);
        }
        tol.ignore.push(cells === undefined ? { metric, source: where } : { metric, cells, source: where });
        return;
      }
      default:
        throw new UsageError(`${where}: unknown setting '${key}'; valid: alpha, threshold, ignore`);
    }
  });
  return tol;
}

/** Read a tolerance file, or the defaults when `file` does not exist and `required` is false. */
export function readTolerance(file: string, ctx: ToleranceContext, required = false): Tolerance {
  if (!existsSync(file)) {
    if (required) throw new UsageError(`${file}: no such tolerance file`);
    return defaultTolerance();
  }
  return parseTolerance(readFileSync(file, 'utf8'), file, ctx);
}

/** The rule that makes (cell, metric) ignored, if any. */
export function ignoredBy(tol: Tolerance, cell: string, metric: string): IgnoreRule | undefined {
  return tol.ignore.find((r) => (r.metric === '*' || r.metric === metric) && (r.cells === undefined || globToRegExp(r.cells).test(cell)));
}

export function thresholdOf(tol: Tolerance, metric: string): number {
  return tol.thresholds[metric] ?? tol.threshold;
}

/** The file a new baseline gets: every setting at its default, commented, with the format explained. */
export function toleranceTemplate(metrics: readonly string[]): string {
  return [
    '# virtbench tolerance file: how compare judges a candidate run against this baseline.',
    '# One setting per line; "#" starts a comment. Names are checked against the runs compared.',
    '#',
    `#   alpha 0.01                 significance level of the whole comparison, Holm over its tests (default ${DEFAULT_ALPHA})`,
    `#   threshold 5%               noise threshold: a relative change up to it never fails (default ${DEFAULT_THRESHOLD * 100}%)`,
    '#   threshold <metric> 8%      threshold of one metric',
    '#   ignore <metric>            report the metric but never judge it',
    '#   ignore <metric|*> <cells>  same, only in cells whose id matches the pattern ("*" = any text)',
    '#',
    `# metrics of this baseline: ${[...metrics].sort().join(', ') || '(none)'}`,
    '',
  ].join('\n');
}
