// npm run merge -- <shard dir>... [--out DIR] [--allow-mixed-hardware] [--allow-partial] [--name NAME]
// Exit: 0 merged, 2 refused (one line says why), 3 internal error.
import { UsageError } from '../core/errors.ts';
import { cliMain, parseCli } from '../analysis/cli-support.ts';
import { mergeShards } from '../analysis/merge.ts';

const USAGE = `usage: npm run merge -- <shard dir>... [options]

Merges the result directories of the shards of one run (npm run suite <suite> -- --shard i/N, e.g.
the tasks of contrib/slurm's array job) into one result directory: manifest.json lists every shard
with its host and hardware ("merge"), samples.jsonl keeps each sample's host and shard, summary.csv
is written as for any run, and npm run figures / export / compare / baseline read it as any run.
Refused with one line (exit 2): a directory that is not a shard's result, two copies of a shard,
shards of different plans (suite, profile, seed, options, harness commit, number of shards, cells),
shards of different hardware classes (CPU model, cores, memory), and a missing or interrupted shard
(named, with the command that finishes it).

options:
  --out DIR               the merged result directory, new or empty (default
                          <results>/<suite>/<UTC stamp>-<name>)
  --results DIR           results root for the default --out (default results)
  --name NAME             the host name the merged run is filed under for baselines and compare
                          (default: the shards' host if they all ran on one, else the hardware
                          class, e.g. class-Intel-Xeon-...-2-cores-23-5-GiB); contrib/slurm uses the
                          Slurm constraint
  --allow-mixed-hardware  merge shards of different hardware classes (said in the caveats)
  --allow-partial         merge although shards are missing or interrupted: they are named in the
                          manifest ("merge.missingShards", "incompleteShards") and the merged run
                          stays incomplete for every tool (they then need --allow-partial too)
  -h, --help              this text`;

await cliMain(async () => {
  const { values: v, positionals } = parseCli(process.argv.slice(2), {
    out: { type: 'string' },
    results: { type: 'string' },
    name: { type: 'string' },
    'allow-mixed-hardware': { type: 'boolean' },
    'allow-partial': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('expected the result directories of the shards to merge (see --help)');
  if (v.name !== undefined && !/^[A-Za-z0-9_.-]+$/.test(v.name)) throw new UsageError(`--name takes letters, digits, '.', '_' and '-', got '${v.name}'`);
  const r = await mergeShards(positionals, { out: v.out, resultsRoot: v.results, name: v.name, allowMixedHardware: v['allow-mixed-hardware'], allowPartial: v['allow-partial'] });
  for (const w of r.warnings) process.stderr.write(`virtbench merge: WARNING: ${w}\n`);
  process.stderr.write(`merged ${r.manifest.merge!.shards.length} shard(s), ${r.manifest.cells.length} cells, ${r.samples} samples\n`);
  process.stdout.write(`results: ${r.dir}\n`);
  return 0;
});
