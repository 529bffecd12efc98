// The Slurm integration end to end on a one-node cluster started here (slurm-cluster.ts): a two-shard
// smoke array of the isolation suite on bare metal and lxc submitted through contrib/slurm/submit.sh,
// the merge job it chains (--dependency=afterok), then the merged summary checked against a
// single-host run of the same seed: the same cell ids, the same sample counts and statuses.
// Small on purpose (kernel-compile alone and beside its competing neighbour, 1 rep, no warm-up: 4
// cells, two ratio families, one per shard): about 3 minutes. Needs slurm-wlm and munge: .ci/run
// installs them and sets VIRTBENCH_REQUIRE_SLURM=1, so in CI a missing Slurm fails the test; elsewhere
// the test is reported as skipped, naming what is missing.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';
import { leftovers } from './leftovers.ts';
import { missingSlurmTools, startCluster, type Cluster } from './slurm-cluster.ts';
import { parseCsv, smokeRun } from './smoke.ts';

const SUITE_ARGS = ['--platforms', 'baremetal,lxc', '--workloads', 'kernel-compile', '--neighbours', 'competing', '--reps', '1', '--warmup', '0'];
const missing = await missingSlurmTools();
const required = process.env.VIRTBENCH_REQUIRE_SLURM === '1';
const slurmTest = missing.length > 0 && !required ? test.skip : test;
const title = `slurm: a two-shard isolation smoke array on a one-node cluster, merged, equals a single-host run of the same seed${missing.length > 0 ? ` (not installed here: ${missing.join(', ')}; apt-get install slurm-wlm munge)` : ''}`;

/** cell -> metric -> statuses of its measured samples (sorted). */
function byCell(samples: Sample[]): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  for (const s of samples.filter((x) => !x.warmup)) ((out[s.cell] ??= {})[s.metric] ??= []).push(s.status);
  for (const m of Object.values(out)) for (const k of Object.keys(m)) m[k]!.sort();
  return out;
}

slurmTest(title, async (t) => {
  if (missing.length > 0) return t.fail(`Slurm is not installed (${missing.join(', ')}): CI installs slurm-wlm and munge (.ci/run)`);
  const t0 = Date.now();
  let cluster: Cluster | undefined;
  t.teardown(async () => {
    const notes = (await cluster?.stop()) ?? [];
    for (const n of notes) t.log(`slurm stop: ${n}`);
  });
  cluster = await startCluster(tempDir('vb-slurm-'));
  const tUp = Date.now();
  const out = join(tempDir('vb-slurm-out-'), 'run');
  const submit = await execa('contrib/slurm/submit.sh', ['--suite', 'isolation', '--shards', '2', '--constraint', cluster.feature, '--out', out, '--checkout', process.cwd(), '--wait', '--', '--profile', 'smoke', '--seed', '1', ...SUITE_ARGS], {
    reject: false,
    all: true,
    env: { ...cluster.env, CI: '1' },
    timeout: 10 * 60_000,
  });
  const logs = (name: string) => (existsSync(join(out, 'logs', name)) ? readFileSync(join(out, 'logs', name), 'utf8').trim().split('\n').slice(-15).join('\n') : `(no ${name})`);
  const why = `${submit.all}\n--- shard 0:\n${logs('shard-0.log')}\n--- shard 1:\n${logs('shard-1.log')}\n--- merge:\n${logs('merge.log')}\n--- slurmctld: ${cluster.log('slurmctld')}`;
  t.is(submit.exitCode, 0, why);
  t.regex(submit.all ?? '', /^array job: \d+$/m);
  t.regex(submit.all ?? '', /^merge job: \d+$/m);
  const tSlurm = Date.now();
  const merged = join(out, 'merged');
  t.true(existsSync(join(merged, 'summary.csv')), why);
  const manifest = JSON.parse(readFileSync(join(merged, 'manifest.json'), 'utf8')) as Manifest;
  const samples = readFileSync(join(merged, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample);
  const rows = parseCsv(readFileSync(join(merged, 'summary.csv'), 'utf8'));

  // the merge: both shards, each on this node, every sample with its host and shard
  t.deepEqual(manifest.merge?.shards.map((s) => s.shard), ['1/2', '2/2']);
  t.deepEqual(manifest.merge?.missingShards, []);
  t.true(manifest.merge!.shards.every((s) => s.cells.length === 2 && s.runsRecorded === s.plannedRuns), JSON.stringify(manifest.merge?.shards));
  t.true(samples.every((s) => typeof s.host === 'string' && (s.shard === '1/2' || s.shard === '2/2')));
  // figures and tables rendered by the merge job
  t.true(existsSync(join(merged, 'figures', 'index.md')), 'figures rendered');
  t.true(readdirSync(join(merged, 'tables')).length > 0, 'tables exported');

  // the same plan on one host: the same cells, sample counts and statuses
  const single = await smokeRun('isolation', SUITE_ARGS);
  const tSingle = Date.now();
  t.is(single.exitCode, 0, single.tail);
  t.deepEqual(manifest.cells.map((c) => c.id), single.manifest.cells.map((c) => c.id), 'identical cell ids, in plan order');
  t.is(samples.length, single.samples.length, 'as many samples');
  t.deepEqual(byCell(samples), byCell(single.samples), 'per cell and metric: the same number of samples with the same statuses');
  t.deepEqual(
    rows.map((r) => `${r.cell} ${r.metric} n=${r.n} ref=${r.reference}`),
    single.rows.map((r) => `${r.cell} ${r.metric} n=${r.n} ref=${r.reference}`),
    'summary rows: the same cells, metrics, counts and references',
  );
  t.true(rows.filter((r) => r.reference !== '').every((r) => r.ratio !== ''), 'every ratio of the merged summary has its reference on the same shard');
  t.log(`cells ${manifest.cells.length}, samples merged ${samples.length} vs single-host ${single.samples.length}`);
  t.log(`cluster up ${((tUp - t0) / 1000).toFixed(0)} s, submit to merged ${((tSlurm - tUp) / 1000).toFixed(0)} s, single-host run ${((tSingle - tSlurm) / 1000).toFixed(0)} s, total ${((tSingle - t0) / 1000).toFixed(0)} s`);
  t.deepEqual(await leftovers(), []);
});
