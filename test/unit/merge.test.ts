// npm run merge on hand-made shard directories: a synthetic run (analysis/synthetic.ts) split with
// the real split (core/shard.ts) into shard result directories as `--shard i/N` writes them.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeShards } from '../../analysis/merge.ts';
import { loadRun } from '../../analysis/resultdir.ts';
import { syntheticRun, writeRun, cellOf, type SyntheticCell } from '../../analysis/synthetic.ts';
import { UsageError } from '../../core/errors.ts';
import type { Manifest } from '../../core/results.ts';
import { shardCells } from '../../core/shard.ts';
import type { Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';

const wall = (mean: number) => [{ metric: 'wall_s', unit: 's', better: 'lower' as const, mean, cv: 0.02 }];

/** Two platforms x two workloads, each alone and beside a competing neighbour: four ratio families. */
function cells(): SyntheticCell[] {
  const out: SyntheticCell[] = [];
  for (const platform of ['baremetal', 'lxc']) {
    for (const workload of ['kernel-compile', 'filebench']) {
      const none = cellOf({ platform, workload, metrics: [] }).id;
      out.push({ platform, workload, metrics: wall(platform === 'lxc' ? 110 : 100) });
      out.push({ platform, workload, neighbourKind: 'competing', neighbour: workload, reference: none, metrics: wall(150) });
    }
  }
  return out;
}

type Run = { manifest: Manifest; samples: Sample[] };

/** The whole synthetic run split as --shard i/N would: the shard's cells, samples and manifest record. */
function shardOf(whole: Run, index: number, count: number, host = `node${index}`): Run {
  const { cells: mine, record } = shardCells(whole.manifest.cells, { index, count }, () => 1, whole.manifest.plannedRuns);
  const ids = new Set(mine.map((c) => c.id));
  const samples = whole.samples.filter((s) => ids.has(s.cell));
  return {
    manifest: { ...whole.manifest, cells: mine, plannedRuns: new Set(samples.map((s) => `${s.cell}#${s.rep}`)).size, options: { ...whole.manifest.options, shard: { index, count } }, shard: record, host: { ...whole.manifest.host, hostname: host } },
    samples,
  };
}

function shardDirs(count: number, edit: (r: Run, i: number) => Run = (r) => r): { root: string; dirs: string[]; whole: Run } {
  const root = tempDir('vb-merge-');
  const whole = syntheticRun({ seed: 5, reps: 3, cells: cells() });
  const dirs = Array.from({ length: count }, (_, i) => writeRun(join(root, `shard-${i + 1}`), edit(shardOf(whole, i + 1, count), i + 1)));
  return { root, dirs, whole };
}

test('two shards merge into one result directory: every cell in plan order, samples with host and shard, summary.csv', async (t) => {
  const { root, dirs, whole } = shardDirs(2);
  const r = await mergeShards([dirs[1]!, dirs[0]!], { out: join(root, 'merged'), now: new Date('2026-12-02T00:00:00Z') });
  t.deepEqual(r.warnings, []);
  t.deepEqual(r.manifest.cells.map((c) => c.id), whole.manifest.cells.map((c) => c.id));
  t.is(r.manifest.plannedRuns, whole.manifest.plannedRuns);
  t.is(r.manifest.shard, undefined);
  t.is(r.manifest.options.shard, undefined);
  t.deepEqual(r.manifest.merge!.shards.map((s) => [s.shard, s.host, s.hardware]), [
    ['1/2', 'node1', 'Synthetic CPU @ 2.0GHz, 2 cores, 24.0 GiB'],
    ['2/2', 'node2', 'Synthetic CPU @ 2.0GHz, 2 cores, 24.0 GiB'],
  ]);
  // two hosts: filed under the hardware class
  t.is(r.manifest.host.hostname, 'class-Synthetic-CPU-2-0GHz-2-cores-24-0-GiB');
  const run = await loadRun(r.dir);
  t.is(run.samples.length, whole.samples.length);
  t.deepEqual(new Set(run.samples.map((s) => `${s.shard} ${s.host}`)), new Set(['1/2 node1', '2/2 node2']));
  const csv = readFileSync(join(r.dir, 'summary.csv'), 'utf8').trim().split('\n');
  t.is(csv.length, 1 + whole.manifest.cells.length);
  // every ratio has its reference (families were kept together)
  const head = csv[0]!.split(',');
  for (const line of csv.slice(1)) {
    const row = Object.fromEntries(line.split(',').map((v, i) => [head[i]!, v]));
    if (row.reference) t.not(row.ratio, '', row.cell);
  }
  t.false(existsSync(join(root, `.merged.merging-${process.pid}`)), 'no temporary directory left');
});

test('--name files the merge under a class; shards of one host keep its name', async (t) => {
  const { root, dirs } = shardDirs(2, (r) => ({ ...r, manifest: { ...r.manifest, host: { ...r.manifest.host, hostname: 'lab7' } } }));
  t.is((await mergeShards(dirs, { out: join(root, 'a') })).manifest.host.hostname, 'lab7');
  t.is((await mergeShards(dirs, { out: join(root, 'b'), name: 'xeon-e5' })).manifest.host.hostname, 'xeon-e5');
});

test('refused with one line: not a result, not a shard, two copies of a shard, an existing output', async (t) => {
  const { root, dirs, whole } = shardDirs(2);
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const whole1 = writeRun(join(root, 'whole'), whole);
  const cases: [string[], RegExp, object?][] = [
    [[empty, dirs[1]!], /is not a result directory: no manifest\.json/],
    [[whole1, dirs[0]!], /is not a shard: its manifest has no "shard"/],
    [[dirs[0]!, dirs[1]!, dirs[0]!], /two copies of shard 1\/2: .*shard-1 and .*shard-1/],
    [dirs, /exists and is not empty/, { out: root }],
  ];
  for (const [given, re, opts] of cases) {
    const err = await t.throwsAsync(mergeShards(given, { out: join(root, 'out'), ...opts }), { instanceOf: UsageError, message: re });
    t.false(err!.message.includes('\n'));
  }
  t.false(existsSync(join(root, 'out')));
});

test('refused: shards of different plans (suite, profile, seed, harness commit, N, options, cells)', async (t) => {
  const edits: [string, (m: Manifest) => Manifest, RegExp][] = [
    ['suite', (m) => ({ ...m, suite: 'baseline' }), /different suites \('isolation' vs 'baseline'\)/],
    ['profile', (m) => ({ ...m, options: { ...m.options, profile: 'quick' } }), /different profiles \('smoke' vs 'quick'\)/],
    ['seed', (m) => ({ ...m, options: { ...m.options, seed: 6 } }), /different seeds \(5 vs 6\)/],
    ['commit', (m) => ({ ...m, harness: { commit: '1111111111111111111111111111111111111111', dirty: false } }), /different harness commits/],
    ['N', (m) => ({ ...m, shard: { ...m.shard!, count: 3 }, options: { ...m.options, shard: { index: 2, count: 3 } } }), /shards of different splits \(1\/2 vs 2\/3\)/],
    ['options', (m) => ({ ...m, options: { ...m.options, vcpus: 2 } }), /different options: vcpus \(1 vs 2\)/],
    ['cells', (m) => ({ ...m, shard: { ...m.shard!, planHash: 'x', planCells: m.shard!.planCells.slice(1) } }), /different plans \(only the first plans baremetal\/kernel-compile/],
  ];
  for (const [what, edit, re] of edits) {
    // a shard of another suite has samples of that suite too
    const { root, dirs } = shardDirs(2, (r, i) => (i === 2 ? { samples: r.samples.map((x) => ({ ...x, suite: edit(r.manifest).suite })), manifest: edit(r.manifest) } : r));
    await t.throwsAsync(mergeShards(dirs, { out: join(root, 'out') }), { instanceOf: UsageError, message: re }, what);
  }
});

test('different hardware classes: refused unless --allow-mixed-hardware, then said in the caveats', async (t) => {
  const { root, dirs } = shardDirs(2, (r, i) => (i === 2 ? { ...r, manifest: { ...r.manifest, host: { ...r.manifest.host, cpu: { ...r.manifest.host.cpu, cores: 4 } } } } : r));
  await t.throwsAsync(mergeShards(dirs, { out: join(root, 'out') }), { instanceOf: UsageError, message: /different hardware classes: .*2 cores.*4 cores.*--allow-mixed-hardware/ });
  const r = await mergeShards(dirs, { out: join(root, 'out'), allowMixedHardware: true });
  t.true(r.manifest.merge!.mixedHardware);
  t.true(r.manifest.caveats.some((c) => /different hardware classes merged/.test(c)));
  // memory within 2% is the same class
  const near = shardDirs(2, (x, i) => (i === 2 ? { ...x, manifest: { ...x.manifest, host: { ...x.manifest.host, memoryBytes: x.manifest.host.memoryBytes * 0.99 } } } : x));
  await t.notThrowsAsync(mergeShards(near.dirs, { out: join(near.root, 'out') }));
});

test('a missing shard and an interrupted shard are named; --allow-partial merges them as an incomplete run', async (t) => {
  const { root, dirs } = shardDirs(3);
  await t.throwsAsync(mergeShards([dirs[0]!, dirs[2]!], { out: join(root, 'out') }), { instanceOf: UsageError, message: /^shard 2\/3 missing \(no result directory given\): merge every shard, or pass --allow-partial$/ });
  const partial = await mergeShards([dirs[0]!, dirs[2]!], { out: join(root, 'partial'), allowPartial: true });
  t.deepEqual(partial.manifest.merge!.missingShards, ['2/3']);
  t.true(partial.manifest.merge!.missingCells.length > 0);
  t.true(partial.warnings.some((w) => /INCOMPLETE MERGE.*shard 2\/3 missing/.test(w)));
  // the merged run stays incomplete for every tool
  await t.throwsAsync(loadRun(partial.dir), { instanceOf: UsageError, message: /incomplete run/ });
  await t.notThrowsAsync(loadRun(partial.dir, { allowPartial: true }));

  // shard 2 interrupted: its last run's lines are gone
  const file = join(dirs[1]!, 'samples.jsonl');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  writeFileSync(file, lines.slice(0, -1).join('\n') + '\n');
  await t.throwsAsync(mergeShards(dirs, { out: join(root, 'out2') }), { instanceOf: UsageError, message: /shard 2\/3 incomplete \(\d+ of \d+ runs in .*shard-2; finish it with 'npm run suite isolation -- --resume .*shard-2'\)/ });
  const r = await mergeShards(dirs, { out: join(root, 'out2'), allowPartial: true });
  t.deepEqual(r.manifest.merge!.incompleteShards, ['2/3']);
});

test('the CLI: one line and exit 2 for a refusal, the merged directory on stdout otherwise', async (t) => {
  const { root, dirs } = shardDirs(2);
  const cli = (args: string[]) => execa(process.execPath, ['--import', 'tsx', 'cli/merge.ts', ...args], { reject: false });
  const bad = await cli([dirs[0]!, dirs[0]!]);
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /^virtbench: two copies of shard 1\/2: .*$/);
  t.is(bad.stderr.trim().split('\n').length, 1);
  const none = await cli([]);
  t.is(none.exitCode, 2);
  const ok = await cli([...dirs, '--out', join(root, 'm')]);
  t.is(ok.exitCode, 0, ok.stderr);
  t.is(ok.stdout.trim(), `results: ${join(root, 'm')}`);
  t.true(existsSync(join(root, 'm', 'summary.csv')));
});
