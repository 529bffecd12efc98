// npm run merge: shard result directories (--shard i/N runs, e.g. the tasks of a Slurm array) into
// one result directory that summary, figures, export, compare and baseline read like any run. The
// shards must be parts of one plan (suite, profile, seed, options, harness commit, N and the same
// cells) measured on one hardware class; every refusal is one UsageError line. A missing or
// interrupted shard is refused by name unless allowPartial, which merges what is there and names
// what is missing in the manifest (plannedRuns stays the whole plan's, so every tool still calls
// the merged run incomplete).
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { UsageError } from '../core/errors.ts';
import type { HostFacts } from '../core/host.ts';
import type { MergeRecord, MergedShard } from '../core/merge-record.ts';
import type { RunOptions } from '../core/options.ts';
import { SAMPLES, stamp, writeManifest, type Manifest } from '../core/results.ts';
import { formatShard } from '../core/shard.ts';
import type { Cell, Sample } from '../core/types.ts';
import { hostKey, loadRun, runHost, type LoadedRun } from './resultdir.ts';
import { writeSummaryCsv } from './summary.ts';

export interface MergeOptions {
  /** The merged result directory to create (must not exist, or be empty). Default <resultsRoot>/<suite>/<stamp>-<name>. */
  out?: string;
  resultsRoot?: string;
  /** Merge shards of different hardware classes (said in the manifest's caveats). */
  allowMixedHardware?: boolean;
  /** Merge although a shard is missing or interrupted (named in the manifest; the run stays incomplete). */
  allowPartial?: boolean;
  /** The host name the merged run is filed under (baselines, compare): default the shards' host when they all ran on one, else the hardware class. */
  name?: string;
  now?: Date;
}

export interface MergeResult {
  dir: string;
  manifest: Manifest;
  samples: number;
  /** What allowPartial / allowMixedHardware let through, one sentence each (also in the manifest's caveats). */
  warnings: string[];
}

const GiB = 1024 ** 3;

/** A hardware class in words: CPU model, cores, memory. */
export function hardwareOf(h: Partial<HostFacts> | undefined): string {
  return `${h?.cpu?.brand ?? 'unknown CPU'}, ${h?.cpu?.cores ?? '?'} cores, ${typeof h?.memoryBytes === 'number' ? (h.memoryBytes / GiB).toFixed(1) : '?'} GiB`;
}

/** Same CPU model and cores, memory within 2% (what compare also calls the same hardware). */
export function sameHardware(a: Partial<HostFacts> | undefined, b: Partial<HostFacts> | undefined): boolean {
  if (a?.cpu?.brand !== b?.cpu?.brand || a?.cpu?.cores !== b?.cpu?.cores) return false;
  const [ma, mb] = [a?.memoryBytes, b?.memoryBytes];
  return typeof ma === 'number' && typeof mb === 'number' && Math.abs(ma - mb) <= 0.02 * Math.max(ma, mb);
}

/** The options that decide the plan: everything but where the run was written and how it was invoked. */
function planOptions(o: RunOptions | undefined): string {
  const { out: _o, resume: _r, dryRun: _d, compareTo: _c, shard: _s, ...rest } = (o ?? {}) as RunOptions;
  return JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b))));
}

/** The first option that differs, in words. */
function optionDifference(a: RunOptions, b: RunOptions): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !['out', 'resume', 'dryRun', 'compareTo', 'shard'].includes(k)).sort();
  const k = keys.find((key) => JSON.stringify((a as unknown as Record<string, unknown>)[key]) !== JSON.stringify((b as unknown as Record<string, unknown>)[key]));
  return k === undefined ? 'options' : `${k} (${JSON.stringify((a as unknown as Record<string, unknown>)[k])} vs ${JSON.stringify((b as unknown as Record<string, unknown>)[k])})`;
}

async function loadShard(dir: string): Promise<LoadedRun> {
  const run = await loadRun(dir, { allowPartial: true });
  const s = run.manifest.shard;
  if (run.manifest.merge) throw new UsageError(`${dir} is already a merge of shards; merge the shard directories themselves`);
  if (!s || typeof s.index !== 'number' || typeof s.count !== 'number' || !Array.isArray(s.planCells)) {
    throw new UsageError(`${dir} is not a shard: its manifest has no "shard" (a run of the whole plan needs no merge; shards come from --shard i/N)`);
  }
  return run;
}

/** Refuses (UsageError, naming the first difference) two shards that are not parts of one plan. */
function checkSamePlan(a: LoadedRun, b: LoadedRun): void {
  const [ma, mb] = [a.manifest, b.manifest];
  const refuse = (why: string) => {
    throw new UsageError(`cannot merge ${a.dir} with ${b.dir}: ${why}`);
  };
  if (ma.suite !== mb.suite) refuse(`different suites ('${ma.suite}' vs '${mb.suite}')`);
  if (ma.options?.profile !== mb.options?.profile) refuse(`different profiles ('${ma.options?.profile}' vs '${mb.options?.profile}')`);
  if (ma.options?.seed !== mb.options?.seed) refuse(`different seeds (${ma.options?.seed} vs ${mb.options?.seed}): not shards of one run`);
  if (ma.harness?.commit !== mb.harness?.commit) refuse(`different harness commits (${ma.harness?.commit} vs ${mb.harness?.commit})`);
  if (ma.shard!.count !== mb.shard!.count) refuse(`shards of different splits (${formatShard(ma.shard!)} vs ${formatShard(mb.shard!)})`);
  if (planOptions(ma.options) !== planOptions(mb.options)) refuse(`different options: ${optionDifference(ma.options, mb.options)}`);
  if (ma.shard!.planHash !== mb.shard!.planHash) {
    const only = ma.shard!.planCells.filter((c) => !mb.shard!.planCells.includes(c));
    const other = mb.shard!.planCells.filter((c) => !ma.shard!.planCells.includes(c));
    refuse(`different plans (${only.length ? `only the first plans ${only.slice(0, 2).join(', ')}` : other.length ? `only the second plans ${other.slice(0, 2).join(', ')}` : 'cells in another order'}; give the hosts the same --platforms)`);
  }
}

export async function mergeShards(dirs: string[], opts: MergeOptions = {}): Promise<MergeResult> {
  if (dirs.length === 0) throw new UsageError('expected the result directories of the shards to merge (see --help)');
  const runs: LoadedRun[] = [];
  for (const d of dirs) runs.push(await loadShard(d));
  for (const r of runs.slice(1)) checkSamePlan(runs[0]!, r);
  // two copies of one shard (the same directory twice, or a shard run twice)
  const seen = new Map<number, LoadedRun>();
  for (const r of runs) {
    const had = seen.get(r.manifest.shard!.index);
    if (had) throw new UsageError(`two copies of shard ${formatShard(r.manifest.shard!)}: ${had.dir} and ${r.dir}; give one of them`);
    seen.set(r.manifest.shard!.index, r);
  }
  runs.sort((a, b) => a.manifest.shard!.index - b.manifest.shard!.index);
  const first = runs[0]!;
  const warnings: string[] = [];
  const mixed = runs.find((r) => !sameHardware(first.manifest.host, r.manifest.host));
  if (mixed) {
    const why = `${first.dir} ran on ${hardwareOf(first.manifest.host)}, ${mixed.dir} on ${hardwareOf(mixed.manifest.host)}`;
    if (!opts.allowMixedHardware) throw new UsageError(`cannot merge shards of different hardware classes: ${why}; pass --allow-mixed-hardware to merge anyway`);
    warnings.push(`shards of different hardware classes merged (--allow-mixed-hardware): ${why}; ratios within a shard stay on one host, comparisons across shards do not`);
  }

  const count = first.manifest.shard!.count;
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i)).map((i) => formatShard({ index: i, count }));
  const incomplete = runs.filter((r) => r.runsRecorded < r.manifest.plannedRuns || r.notes.length > 0);
  const suite = first.manifest.suite;
  if (missing.length > 0 || incomplete.length > 0) {
    const parts = [
      ...(missing.length ? [`shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing (no result directory given)`] : []),
      ...incomplete.map((r) => `shard ${formatShard(r.manifest.shard!)} incomplete (${r.runsRecorded} of ${r.manifest.plannedRuns} runs in ${r.dir}; finish it with 'npm run suite ${suite} -- --resume ${r.dir}')`),
    ];
    if (!opts.allowPartial) throw new UsageError(`${parts.join('; ')}: merge every shard, or pass --allow-partial`);
    warnings.push(`INCOMPLETE MERGE (--allow-partial): ${parts.join('; ')}`);
  }

  const hosts = [...new Set(runs.map((r) => runHost(r.manifest)))];
  const name = opts.name ?? (hosts.length === 1 ? hosts[0]! : `class-${hardwareOf(first.manifest.host).replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`);
  const shards: MergedShard[] = runs.map((r) => ({
    shard: formatShard(r.manifest.shard!),
    dir: r.dir,
    host: runHost(r.manifest),
    hardware: hardwareOf(r.manifest.host),
    created: r.manifest.created,
    cells: r.manifest.cells.map((c) => c.id),
    plannedRuns: r.manifest.plannedRuns,
    runsRecorded: r.runsRecorded,
  }));
  const cellById = new Map<string, Cell>(runs.flatMap((r) => r.manifest.cells.map((c) => [c.id, c] as const)));
  const planCells = first.manifest.shard!.planCells;
  const merge: MergeRecord = {
    mergedAt: (opts.now ?? new Date()).toISOString(),
    name,
    shards,
    missingShards: missing,
    incompleteShards: incomplete.map((r) => formatShard(r.manifest.shard!)),
    missingCells: planCells.filter((c) => !cellById.has(c)),
    mixedHardware: mixed !== undefined,
  };
  const union = <T>(lists: T[][]) => [...new Set(lists.flat())];
  const { shard: _shard, recheck: _recheck, ...base } = first.manifest;
  const { shard: _optShard, ...options } = first.manifest.options;
  const manifest: Manifest = {
    ...base,
    created: runs.map((r) => r.manifest.created).sort()[0]!,
    command: `npm run merge -- ${runs.map((r) => r.dir).join(' ')}`,
    options,
    platforms: union(runs.map((r) => r.manifest.platforms ?? [])),
    accel: Object.assign({}, ...runs.map((r) => r.manifest.accel ?? {})),
    runTimeoutS: Object.assign({}, ...runs.map((r) => r.manifest.runTimeoutS ?? {})),
    adjustments: union(runs.map((r) => r.manifest.adjustments ?? [])),
    cells: planCells.filter((c) => cellById.has(c)).map((c) => cellById.get(c)!),
    // the whole plan's: a merge missing a shard stays an incomplete run for every tool
    plannedRuns: first.manifest.shard!.planRuns,
    host: { ...first.manifest.host, hostname: name },
    harness: { commit: first.manifest.harness.commit, dirty: runs.some((r) => r.manifest.harness?.dirty) },
    caveats: [...union(runs.map((r) => r.manifest.caveats ?? [])), `merged from ${runs.length} of ${count} shards on ${hosts.join(', ')} (manifest "merge"; samples carry "host" and "shard")`, ...warnings],
    ...(runs.some((r) => r.manifest.adaptive) ? { adaptive: runs.flatMap((r) => r.manifest.adaptive ?? []) } : {}),
    merge,
  };
  // accelerators that differ between shards for one platform: the samples say which is which
  for (const p of manifest.platforms) {
    const seenAccel = union(runs.map((r) => (r.manifest.accel?.[p] ? [r.manifest.accel[p]!] : [])));
    if (seenAccel.length > 1) manifest.caveats.push(`platform ${p} ran under ${seenAccel.join(' and ')} on different shards (samples' accel says which)`);
  }
  const samples: Sample[] = runs.flatMap((r) => r.samples.map((s) => ({ ...s, host: s.host ?? runHost(r.manifest), shard: s.shard ?? formatShard(r.manifest.shard!) })));

  const out = resolve(opts.out ?? join(opts.resultsRoot ?? 'results', suite, `${stamp(opts.now)}-${hostKey(name)}`));
  if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`--out ${out} exists and is not empty; give a new directory`);
  if (runs.some((r) => r.dir === out)) throw new UsageError(`--out ${out} is one of the shards`);
  // built beside the target, then renamed: a merge that fails leaves no half-written result
  mkdirSync(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.merging-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    for (const r of runs) if (existsSync(join(r.dir, 'runs'))) cpSync(join(r.dir, 'runs'), join(tmp, 'runs'), { recursive: true });
    writeFileAtomic(join(tmp, SAMPLES), samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
    writeManifest(tmp, manifest);
    await writeSummaryCsv(tmp);
    if (existsSync(out)) rmSync(out, { recursive: true });
    renameSync(tmp, out);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir: out, manifest, samples: samples.length, warnings };
}

