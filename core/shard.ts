// --shard i/N: one of N parts of a suite's planned cells, for running a matrix on several hosts
// (contrib/slurm). A ratio compares a cell with its reference cell, so cells linked by references
// form a "ratio family" that must run on one host (and in the same rounds); families, not cells,
// are dealt to shards, heaviest first onto the least-loaded shard, by estimated run time. Pure and
// deterministic: every host given the same plan computes the same split.
import { createHash } from 'node:crypto';
import { UsageError } from './errors.ts';
import type { Cell } from './types.ts';

export interface ShardSpec {
  /** 1-based. */
  index: number;
  count: number;
}

/** What a shard's manifest records (manifest.shard): enough for merge to check and to name what is missing. */
export interface ShardRecord {
  index: number;
  count: number;
  /** Hash of the whole plan's cell ids in order: shards of one plan share it. */
  planHash: string;
  /** Every cell id of the whole plan (all shards), in plan order. */
  planCells: string[];
  /** Runs of the whole plan (all shards). */
  planRuns: number;
  /** This shard's ratio families (cell ids; the first is the family's first cell in plan order). */
  families: string[][];
  /** Estimated seconds of every shard's runs (native estimates, the ones the split balanced), index i-1 = shard i. */
  estimatesS: number[];
}

export function formatShard(s: Pick<ShardSpec, 'index' | 'count'>): string {
  return `${s.index}/${s.count}`;
}

/** 'i/N' with 1 <= i <= N; anything else is one UsageError line. */
export function parseShard(v: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) throw new UsageError(`--shard must look like i/N (e.g. 2/4: the second of 4 parts), got '${v}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 10_000) throw new UsageError(`--shard ${v}: N must be between 1 and 10000`);
  if (index < 1 || index > count) throw new UsageError(`--shard ${v}: i must be between 1 and N (${count})`);
  return { index, count };
}

/**
 * Cells linked by `reference` (in either direction, transitively), each family in plan order and
 * the families in the order of their first cell. A reference outside `cells` links nothing.
 */
export function ratioFamilies(cells: Cell[]): Cell[][] {
  const index = new Map(cells.map((c, i) => [c.id, i]));
  const parent = cells.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  for (const [i, c] of cells.entries()) {
    const j = c.reference === undefined ? undefined : index.get(c.reference);
    if (j === undefined) continue;
    const [a, b] = [root(i), root(j)];
    // the smaller index stays the root: the family is named by its first cell
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  }
  const byRoot = new Map<number, Cell[]>();
  for (const [i, c] of cells.entries()) {
    const r = root(i);
    byRoot.set(r, [...(byRoot.get(r) ?? []), c]);
  }
  return [...byRoot.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
}

/**
 * Families dealt to `count` shards: heaviest family first (ties: plan order) onto the shard with
 * the least estimated time so far (ties: the lowest shard). Returns the 0-based shard of each family
 * and every shard's total. A shard may get nothing when there are fewer families than shards.
 */
export function assignFamilies(weights: number[], count: number): { shardOf: number[]; loads: number[] } {
  const order = weights.map((w, i) => ({ w, i })).sort((a, b) => b.w - a.w || a.i - b.i);
  const loads = Array.from({ length: count }, () => 0);
  const shardOf = weights.map(() => 0);
  for (const { w, i } of order) {
    let best = 0;
    for (let s = 1; s < count; s++) if (loads[s]! < loads[best]!) best = s;
    shardOf[i] = best;
    loads[best]! += w;
  }
  return { shardOf, loads };
}

export function planHash(cellIds: string[]): string {
  return createHash('sha256').update(cellIds.join('\n')).digest('hex').slice(0, 16);
}

/**
 * The cells of shard `spec` (in plan order) and its record. `weight(cell)` is the estimated time of
 * all of one cell's runs; it must not depend on the host beyond its hardware class (it decides the
 * split, which every shard must compute alike).
 */
export function shardCells(cells: Cell[], spec: ShardSpec, weight: (c: Cell) => number, planRuns: number): { cells: Cell[]; record: ShardRecord } {
  const families = ratioFamilies(cells);
  const { shardOf, loads } = assignFamilies(
    families.map((f) => f.reduce((s, c) => s + weight(c), 0)),
    spec.count,
  );
  const mine = new Set(families.filter((_, i) => shardOf[i] === spec.index - 1).flatMap((f) => f.map((c) => c.id)));
  const ids = cells.map((c) => c.id);
  return {
    cells: cells.filter((c) => mine.has(c.id)),
    record: {
      index: spec.index,
      count: spec.count,
      planHash: planHash(ids),
      planCells: ids,
      planRuns,
      families: families.filter((_, i) => shardOf[i] === spec.index - 1).map((f) => f.map((c) => c.id)),
      estimatesS: loads.map((l) => Math.round(l)),
    },
  };
}
