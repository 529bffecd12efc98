// samples.jsonl survives a crash or a full disk at any byte: the writer appends whole runs and
// takes back a run whose write failed part-way; --resume's repair cuts a torn tail and the lines
// of runs missing a metric line. The manifest --resume continues is checked, not trusted.
import test from 'ava';
import { readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { SampleWriter, checkResumable, repairSamples, type Manifest } from '../../core/results.ts';
import { checkOutputTarget, resultBytes } from '../../core/out-check.ts';
import type { Sample } from '../../core/types.ts';
import { tempDir } from '../tmp.ts';

// hand-made samples: two metrics per run of workload "w2", one of "w1"
const METRICS: Record<string, string[]> = { w1: ['x'], w2: ['a_s', 'b_ops'] };
const metricsOf = (w: string) => METRICS[w];
function run(cell: string, rep: number, workload = 'w2'): Sample[] {
  return METRICS[workload]!.map(
    (metric, i) =>
      ({
        suite: 'isolation', cell, platform: 'lxc', workload, resource: 'cpu', neighbourKind: 'none', neighbour: 'none',
        cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1, rep, warmup: false, metric, value: 1 + i + rep, unit: 's',
        better: 'lower', status: 'ok', accel: 'native', vcpus: 1, memoryBytes: 1024, start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:01.000Z',
      }) as Sample,
  );
}
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sample);

test('the writer loops on short writes and writes every byte once', (t) => {
  const file = join(tempDir('vb-res-'), 'samples.jsonl');
  const calls: number[] = [];
  // a write that manages at most 50 bytes at a time, as a nearly full disk or a signal may
  const w = new SampleWriter(file, (fd, buf, off, len) => {
    const n = Math.min(len, 50);
    calls.push(n);
    return writeSync(fd, buf, off, n);
  });
  w.append(run('c1', 0));
  w.append(run('c1', 1));
  w.close();
  t.true(calls.length > 4);
  t.deepEqual(lines(file), [...run('c1', 0), ...run('c1', 1)]);
});

test('a write that fails part-way (disk full) is an error, and the file keeps only whole runs', (t) => {
  const file = join(tempDir('vb-res-'), 'samples.jsonl');
  let budget = Infinity;
  const w = new SampleWriter(file, (fd, buf, off, len) => {
    if (budget <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const n = Math.min(len, budget);
    budget -= n;
    return writeSync(fd, buf, off, n);
  });
  w.append(run('c1', 0));
  const good = readFileSync(file, 'utf8');
  budget = 295; // the second run's first line fits, its second is cut after a few bytes
  const err = t.throws(() => w.append(run('c2', 0)));
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
  t.is(readFileSync(file, 'utf8'), good, 'the partial run was taken back');
  // a write returning 0 bytes is no progress: an error too, never "ok"
  const z = new SampleWriter(file, () => 0);
  t.throws(() => z.append(run('c3', 0)), { message: /write made no progress/ });
  t.is(readFileSync(file, 'utf8'), good);
  w.close();
  z.close();
});

test('repair after a cut at every byte: the file keeps exactly the runs that were whole, and appending continues cleanly', (t) => {
  const dir = tempDir('vb-res-');
  const full = [...run('c1', 0), ...run('c2', 0, 'w1'), ...run('c1', 1)].map((s) => JSON.stringify(s) + '\n').join('');
  const runEnds = [0, 0, 0].map((_, i) => full.split('\n').slice(0, [2, 3, 5][i]).join('\n').length + 1);
  const file = join(dir, 'samples.jsonl');
  for (let cut = 0; cut <= full.length; cut++) {
    writeFileSync(file, full);
    truncateSync(file, cut);
    const r = repairSamples(file, metricsOf);
    const whole = runEnds.filter((e) => e <= cut).length;
    t.is(readFileSync(file, 'utf8'), full.slice(0, whole === 0 ? 0 : runEnds[whole - 1]), `cut at ${cut}`);
    t.is(r.done.size, whole);
    t.is(r.removed.length > 0, cut !== (whole === 0 ? 0 : runEnds[whole - 1]));
    const w = new SampleWriter(file);
    w.append(run('c9', 0));
    w.close();
    t.notThrows(() => lines(file));
  }
});

test('a run with a metric line missing anywhere is dropped and counted as not done; other corruption is refused', (t) => {
  const file = join(tempDir('vb-res-'), 'samples.jsonl');
  const [a0, b0] = run('c1', 0);
  writeFileSync(file, [a0, ...run('c2', 0), ...run('c1', 1)].map((s) => JSON.stringify(s) + '\n').join(''));
  const r = repairSamples(file, metricsOf);
  t.deepEqual([...r.done].sort(), ['c1#1', 'c2#0']);
  t.regex(r.removed.join(), /1 run\(s\) with missing metric lines, to run again: c1#0/);
  t.deepEqual(lines(file), [...run('c2', 0), ...run('c1', 1)]);
  t.truthy(b0);
  // a dry run says the same and changes nothing
  writeFileSync(file, JSON.stringify(a0) + '\n{"cut');
  const before = readFileSync(file, 'utf8');
  t.is(repairSamples(file, metricsOf, { write: false }).removed.length, 2);
  t.is(readFileSync(file, 'utf8'), before);
  writeFileSync(file, JSON.stringify(a0) + '\nnot json\n' + JSON.stringify(b0) + '\n');
  t.throws(() => repairSamples(file, metricsOf), { instanceOf: UsageError, message: /samples\.jsonl:2: corrupt line/ });
});

test('--resume checks the manifest: format, suite, a known profile, and a profile record that agrees with its options', (t) => {
  const ok = {
    format: 1, suite: 'isolation', cells: [], plannedRuns: 4,
    options: { profile: 'smoke', reps: 3, warmup: 0, timeoutS: 180, pidsMax: 1024, seed: 1, vcpus: 1, memoryBytes: 1024 ** 3 },
    profile: { name: 'smoke', vcpus: 1, memoryBytes: 1024 ** 3, reps: 3, warmup: 0, timeoutS: 180, pidsMax: 1024 },
  } as unknown as Manifest;
  t.notThrows(() => checkResumable(ok, 'isolation', 'm.json'));
  const bad = (patch: (m: any) => void, re: RegExp) => {
    const m = structuredClone(ok) as any;
    patch(m);
    t.throws(() => checkResumable(m, 'isolation', 'm.json'), { instanceOf: UsageError, message: re });
  };
  bad((m) => (m.format = 2), /manifest format 2 is not supported/);
  bad((m) => (m.suite = 'baseline'), /holds a 'baseline' run, not 'isolation'/);
  bad((m) => (m.options.profile = 'huge'), /unknown profile "huge"; valid: smoke, quick, paper/);
  bad((m) => (m.options.profile = 'quick'), /"profile" \(smoke\) disagrees with "options" \(quick\)/);
  bad((m) => (m.profile.reps = 5), /reps differ/);
  bad((m) => delete m.options, /no "options"/);
});

test('output target: a file where a directory should be, or too little space, is one UsageError line', (t) => {
  const dir = tempDir('vb-out-');
  writeFileSync(join(dir, 'file'), 'x');
  t.throws(() => checkOutputTarget('--out x', join(dir, 'file', 'sub'), 1), { instanceOf: UsageError, message: /is not a directory/ });
  t.throws(() => checkOutputTarget('--out x', dir, 2 ** 62), { instanceOf: UsageError, message: /free on the file system of .*; this plan needs about/ });
  t.notThrows(() => checkOutputTarget('--out x', join(dir, 'new', 'deeper'), resultBytes(10)));
});
