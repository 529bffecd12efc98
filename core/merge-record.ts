// What a merged result directory's manifest says about its shards (manifest.merge; analysis/merge.ts
// writes it): every shard, where it ran and on what hardware, and what is missing.

export interface MergedShard {
  /** 'i/N'. */
  shard: string;
  /** The shard's result directory as given to merge (absolute). */
  dir: string;
  host: string;
  /** CPU, cores and memory: the hardware class the shard ran on. */
  hardware: string;
  created: string;
  cells: string[];
  plannedRuns: number;
  runsRecorded: number;
}

export interface MergeRecord {
  mergedAt: string;
  /** The name the merged run is filed under (its host.hostname: baselines, compare). */
  name: string;
  shards: MergedShard[];
  /** --allow-partial: shards not given (i/N), and shards given that had fewer runs than planned. */
  missingShards: string[];
  incompleteShards: string[];
  /** Cells of the whole plan that no given shard ran (the missing shards' cells). */
  missingCells: string[];
  /** --allow-mixed-hardware: the shards ran on more than one hardware class. */
  mixedHardware: boolean;
}
