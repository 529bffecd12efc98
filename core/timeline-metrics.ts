// Issue 12: the first seconds of a new instance's service as metrics, one per 1-second bucket
// (`ops_s_t3`: requests answered in the third second), so that summary.csv holds each second's
// mean and 95% CI over repetitions like any metric, and the figures draw them as lines against
// the second. Shared by the experiments that record them and the analysis that draws them.
import type { MetricSpec } from './types.ts';

/** What a bucket holds: requests per second, and their mean and median latency. */
export const TIMELINE_BASES: readonly MetricSpec[] = [
  { metric: 'ops_s', unit: 'ops/s', better: 'higher' },
  { metric: 'latency_mean_ms', unit: 'ms', better: 'lower' },
  { metric: 'latency_p50_ms', unit: 'ms', better: 'lower' },
];

/** The longest series any profile records (paper: 30 s). */
export const TIMELINE_MAX_S = 30;

export const timelineMetric = (base: string, second: number): string => `${base}_t${second}`;

/** The base metric and second of a timeline metric name, or undefined for another metric. */
export function parseTimelineMetric(metric: string): { base: string; second: number } | undefined {
  const m = /^(.+)_t(\d+)$/.exec(metric);
  if (!m || !TIMELINE_BASES.some((b) => b.metric === m[1])) return undefined;
  return { base: m[1]!, second: Number(m[2]) };
}

/** Every timeline metric up to TIMELINE_MAX_S seconds, optional (a shorter profile records fewer). */
export function timelineMetricSpecs(): (MetricSpec & { optional: true })[] {
  const out: (MetricSpec & { optional: true })[] = [];
  for (let k = 1; k <= TIMELINE_MAX_S; k++) for (const b of TIMELINE_BASES) out.push({ ...b, metric: timelineMetric(b.metric, k), optional: true });
  return out;
}
