// `npm run suite ... -- --compare-to DIR` end to end on a real smoke run (bare metal, one cell, one
// repetition, under a minute): against a baseline 10x faster than this host, one run cannot be
// significant (smallest p 1/21), so compare suspects the cell and re-runs it before the verdict;
// with the second run the slowdown is significant and the exit code is 1. Figures render for the run.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { syntheticRun, writeRun } from '../../analysis/synthetic.ts';
import { cgroupLayout } from '../../drivers/cgroups.ts';
import { hostFacts } from '../../core/host.ts';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';

const cli = (name: string, args: string[]) => execa(process.execPath, ['--import', 'tsx', `cli/${name}.ts`, ...args], { reject: false, all: true, env: { CI: '1' } });

test('suite --compare-to: a suspect cell is re-run, then the slowdown is a regression (exit 1)', async (t) => {
  const root = tempDir('vb-compare-to-');
  // what this host would measure if the smoke compile (kernel/printk/, 2-3 s here) took 0.25 s: the
  // real run is about 10x slower
  const run = syntheticRun({
    seed: 1,
    reps: 20,
    host: hostname(),
    cells: [{ platform: 'baremetal', workload: 'kernel-compile', metrics: [{ metric: 'wall_s', unit: 's', better: 'lower', mean: 0.25, cv: 0.02 }, { metric: 'cpu_s', unit: 's', better: 'lower', mean: 0.2, cv: 0.02 }] }],
  });
  // this host's hardware, or compare would rightly refuse the synthetic CPU
  run.manifest.host = await hostFacts(cgroupLayout().version);
  const baseline = writeRun(join(root, 'baseline'), run);
  const out = join(root, 'results');
  const r = await cli('suite', ['isolation', '--profile', 'smoke', '--platforms', 'baremetal', '--workloads', 'kernel-compile', '--neighbours', 'none', '--reps', '1', '--warmup', '0', '--out', out, '--compare-to', baseline]);
  t.is(r.exitCode, 1, r.all);
  t.regex(r.all ?? '', /compare: 1 suspect cell\(s\); 1 more interleaved run\(s\) each before the verdict/);
  t.regex(r.all ?? '', /REGRESSION: 2 of 2 cell metrics regressed/);
  const [stamp] = readdirSync(join(out, 'isolation'));
  const dir = join(out, 'isolation', stamp!);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  t.deepEqual(manifest.recheck, { cells: ['baremetal/kernel-compile/none:none/cpuset/hard/x1'], extraReps: 1 });
  const samples = readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample);
  t.deepEqual([...new Set(samples.map((s) => s.rep))].sort(), [1, 2]);
  t.true(existsSync(join(dir, 'compare.csv')) && existsSync(join(dir, 'compare.md')));

  const self = await cli('compare', ['--no-write', dir, dir]);
  t.is(self.exitCode, 0, self.all);
  t.regex(self.all ?? '', /no regression in 4 cell metrics/);
  const figs = await cli('figures', [dir]);
  t.is(figs.exitCode, 0, figs.all);
  t.true(readdirSync(join(dir, 'figures')).some((f) => f.endsWith('-absolute.svg')));
});

test('suite --compare-to a baseline of other hardware: refused before any run, exit 2', async (t) => {
  const root = tempDir('vb-compare-hw-');
  const baseline = writeRun(
    join(root, 'baseline'),
    syntheticRun({ seed: 2, reps: 3, host: hostname(), cells: [{ platform: 'baremetal', workload: 'kernel-compile', metrics: [{ metric: 'wall_s', unit: 's', better: 'lower', mean: 4, cv: 0.02 }] }] }),
  );
  const out = join(root, 'results');
  const r = await cli('suite', ['isolation', '--profile', 'smoke', '--platforms', 'baremetal', '--workloads', 'kernel-compile', '--neighbours', 'none', '--reps', '1', '--out', out, '--compare-to', baseline]);
  t.is(r.exitCode, 2, r.all);
  t.regex(r.all ?? '', /virtbench: --compare-to: .* was measured on other hardware: CPU 'Synthetic CPU/);
  t.false(existsSync(join(out, 'isolation')), 'no result directory');
});
