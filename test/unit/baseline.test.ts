import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { acceptBaseline, baselineDir, listBaselines, resolveBaseline } from '../../analysis/baseline.ts';
import { compareDirs } from '../../analysis/compare-dirs.ts';
import { syntheticRun, writeRun, type SyntheticCell } from '../../analysis/synthetic.ts';
import { tempDir } from '../tmp.ts';

const cells = (mean: number): SyntheticCell[] => [{ platform: 'baremetal', workload: 'kernel-compile', metrics: [{ metric: 'wall_s', unit: 's', better: 'lower', mean, cv: 0.01 }] }];

test('accept copies the run under baselines/<suite>/<host>, writes a tolerance template, resolve finds it', async (t) => {
  const root = tempDir('virtbench-baseline-');
  const results = join(root, 'results');
  const run = writeRun(join(results, 'isolation', 'r1'), syntheticRun({ seed: 1, reps: 5, cells: cells(90), host: 'lab.example/1' }));
  t.throws(() => resolveBaseline('isolation', 'lab.example/1', results), { instanceOf: UsageError, message: /no accepted baseline for suite 'isolation' on host 'lab.example\/1'.*npm run baseline accept/ });

  const r = await acceptBaseline(run, { root: results, note: 'first', now: new Date('2025-02-01T00:00:00Z') });
  t.is(r.dir, join(results, 'baselines', 'isolation', 'lab.example_1'));
  t.is(r.dir, baselineDir('isolation', 'lab.example/1', results));
  t.true(r.toleranceCreated);
  t.is(r.replaced, undefined);
  t.deepEqual((await readdir(r.dir)).sort(), ['accepted.json', 'manifest.json', 'samples.jsonl', 'tolerance.txt']);
  t.is(await readFile(join(r.dir, 'samples.jsonl'), 'utf8'), await readFile(join(run, 'samples.jsonl'), 'utf8'));
  const info = JSON.parse(await readFile(join(r.dir, 'accepted.json'), 'utf8'));
  t.is(info.source, run);
  t.is(info.note, 'first');
  t.is(resolveBaseline('isolation', 'lab.example/1', results), r.dir);

  // a user's edit of the tolerance file survives the next accept; the old baseline goes to history
  await writeFile(join(r.dir, 'tolerance.txt'), 'threshold 7%\n');
  const run2 = writeRun(join(results, 'isolation', 'r2'), syntheticRun({ seed: 2, reps: 5, cells: cells(91), host: 'lab.example/1' }));
  const r2 = await acceptBaseline(run2, { root: results, now: new Date('2025-02-02T00:00:00Z') });
  t.false(r2.toleranceCreated);
  t.is(r2.replaced, join(r.dir, 'history', '2025-02-02T00-00-00Z'));
  t.is(await readFile(join(r.dir, 'tolerance.txt'), 'utf8'), 'threshold 7%\n');
  t.is(JSON.parse(await readFile(join(r2.replaced!, 'accepted.json'), 'utf8')).source, run);
  t.is(JSON.parse(await readFile(join(r.dir, 'accepted.json'), 'utf8')).source, run2);
  t.false(existsSync(join(r.dir, `.incoming-${process.pid}`)));

  const list = listBaselines(results);
  t.is(list.length, 1);
  t.is(list[0]!.suite, 'isolation');
  t.is(list[0]!.info?.source, run2);

  // the baseline directory compares like any result directory, with its tolerance file
  // (+6% is beyond the default 5% but within the edited 7%)
  const cand = writeRun(join(results, 'isolation', 'r3'), syntheticRun({ seed: 3, reps: 5, cells: cells(91 * 1.06), host: 'lab.example/1' }));
  const res = await compareDirs(resolveBaseline('isolation', 'lab.example/1', results), cand, { out: false });
  t.is(res.comparison!.threshold, 0.07);
  t.is(res.exitCode, 0, res.report);
  const strict = await compareDirs(resolveBaseline('isolation', 'lab.example/1', results), cand, { out: false, threshold: 0.05 });
  t.is(strict.exitCode, 1, strict.report);
});

test('accept refuses an interrupted run and a directory that is not a run', async (t) => {
  const root = tempDir('virtbench-baseline-bad-');
  const run = writeRun(join(root, 'r'), syntheticRun({ seed: 1, reps: 5, cells: cells(90) }));
  const text = await readFile(join(run, 'samples.jsonl'), 'utf8');
  await writeFile(join(run, 'samples.jsonl'), text.slice(0, -40));
  await t.throwsAsync(acceptBaseline(run, { root }), { instanceOf: UsageError, message: /samples\.jsonl:5: incomplete last line/ });
  await t.throwsAsync(acceptBaseline(root, { root }), { instanceOf: UsageError, message: /is not a result directory: no manifest\.json/ });
});
