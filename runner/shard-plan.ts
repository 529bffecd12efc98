// --shard i/N applied to a plan: keep the cells of shard i (core/shard.ts) and their runs in the
// order the whole plan would run them, so a shard's rounds are the whole run's rounds restricted to
// its cells (a ratio's within-round pairs stay pairs).
import { UsageError } from '../core/errors.ts';
import { formatDuration } from '../core/progress.ts';
import { formatShard, ratioFamilies, shardCells, type ShardSpec } from '../core/shard.ts';
import type { Cell } from '../core/types.ts';
import type { Plan } from './plan.ts';

/** `cellSeconds(cell)`: estimated time of all of one cell's runs, the same on every host of a hardware class. */
export function shardPlan(plan: Plan, spec: ShardSpec, cellSeconds: (c: Cell) => number): Plan {
  const { cells, record } = shardCells(plan.cells, spec, cellSeconds, plan.runs.length);
  if (cells.length === 0) {
    throw new UsageError(`--shard ${formatShard(spec)}: the plan has only ${ratioFamilies(plan.cells).length} ratio families (cells compared with each other run together), so shard ${spec.index} would be empty; use at most that many shards`);
  }
  const keep = new Set(cells.map((c) => c.id));
  const runs = plan.runs.filter((r) => keep.has(r.cell.id)).map((r, index) => ({ ...r, index }));
  return { ...plan, cells, runs, shard: record };
}

/** The dry run's lines about the split: this shard's share and every shard's estimate (the slowest is the critical path). */
export function shardLines(plan: Plan): string[] {
  const s = plan.shard;
  if (!s) return [];
  const slowest = Math.max(...s.estimatesS);
  return [
    `shard ${formatShard(s)}: ${plan.cells.length} of ${s.planCells.length} cells (${s.families.length} ratio famil${s.families.length === 1 ? 'y' : 'ies'}: a cell and the cells compared with it stay on one shard), ${plan.runs.length} of ${s.planRuns} runs`,
    `shards by estimated time (native estimates, what the split balances): ${s.estimatesS.map((e, i) => `${i + 1}/${s.count} ${formatDuration(e)}`).join(', ')}; slowest (the wall time of the whole run) ${formatDuration(slowest)}`,
  ];
}
