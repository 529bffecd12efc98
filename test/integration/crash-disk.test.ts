// A full disk and a read-only disk under the result directory (small tmpfs mounts): checked before
// anything starts (one line, exit 2, nothing written); a disk that fills up mid-run stops the run
// with one line and exit 4, leaving samples.jsonl with whole runs only, which --resume completes;
// analyze on a full disk keeps the summary.csv it could not replace. Bare metal only: ~1 minute.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { leftovers } from './leftovers.ts';
import { tempDir } from '../tmp.ts';

const ENTRY = join(import.meta.dirname, 'crash-suite.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const suite = (args: string[]) => execa(process.execPath, ['--import', 'tsx', ENTRY, ...args], { reject: false, all: true, env: { CI: '1' } });
const BM = ['--profile', 'smoke', '--platforms', 'baremetal', '--neighbours', 'none', '--seed', '4'];

async function withTmpfs(size: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('vb-fs-');
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'vbtest', dir]);
  try {
    await body(dir);
  } finally {
    await execa('umount', ['-l', dir], { reject: false });
  }
}

const noStack = (text: string) => !/^\s+at /m.test(text);
function lastLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n').at(-1) ?? '';
}

/** Every line JSON, every run with both metric lines: what a reader or --resume can trust. */
function wholeRuns(dir: string): number {
  const text = readFileSync(join(dir, 'samples.jsonl'), 'utf8');
  if (text !== '' && !text.endsWith('\n')) throw new Error('samples.jsonl ends in a cut line');
  const runs = new Map<string, string[]>();
  for (const s of text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sample)) runs.set(`${s.cell}#${s.rep}`, [...(runs.get(`${s.cell}#${s.rep}`) ?? []), s.metric]);
  for (const [k, m] of runs) if (m.sort().join() !== 'sum,tick_s') throw new Error(`run ${k} has metric lines ${m.join(',')}`);
  return runs.size;
}

test('a disk too small for the plan, a read-only disk, a file as --out: one line, exit 2, nothing written', async (t) => {
  await withTmpfs('64k', async (small) => {
    const r = await suite([...BM, '--reps', '3', '--out', small]);
    t.is(r.exitCode, 2, r.all);
    t.regex(r.all ?? '', /^virtbench: --out .*: \d+ KiB free on the file system of .*; this plan needs about \d+ KiB$/);
    t.deepEqual(readdirSync(small), []);
  });
  await withTmpfs('4m', async (ro) => {
    mkdirSync(join(ro, 'sub'));
    await execa('mount', ['-o', 'remount,ro', ro]);
    const r = await suite([...BM, '--reps', '1', '--out', join(ro, 'sub', 'results')]);
    t.is(r.exitCode, 2, r.all);
    t.regex(r.all ?? '', /^virtbench: --out .*: .*\/sub is on a read-only file system$/);
  });
  const file = join(tempDir('vb-fs-'), 'a-file');
  writeFileSync(file, 'x');
  const r = await suite([...BM, '--reps', '1', '--out', join(file, 'results')]);
  t.is(r.exitCode, 2, r.all);
  t.regex(r.all ?? '', /^virtbench: --out .*: .*a-file is not a directory$/);
  t.deepEqual(await leftovers(), []);
});

test('the disk fills up mid-run: one line, exit 4, whole runs kept; read-only resume refused; --resume completes once there is room', async (t) => {
  await withTmpfs('2m', async (out) => {
    // 8 runs of ~0.9 KiB: more than the first 4 KiB page of samples.jsonl, so a run's write needs a new block
    const child = suite([...BM, '--reps', '8', '--out', out]);
    // after the first run's lines are written, fill the disk to the last byte
    let dir: string | undefined;
    for (const until = Date.now() + 120_000; Date.now() < until && child.exitCode === null; await sleep(20)) {
      const root = join(out, 'crashtest');
      dir = existsSync(root) ? join(root, readdirSync(root)[0] ?? '') : undefined;
      if (dir && existsSync(join(dir, 'samples.jsonl')) && statSync(join(dir, 'samples.jsonl')).size > 0) break;
    }
    t.truthy(dir, 'a result directory appeared');
    const filler = join(out, 'filler');
    await execa('sh', ['-c', `dd if=/dev/zero of=${filler} bs=4k 2>/dev/null; true`]);
    const r = await child;
    t.is(r.exitCode, 4, r.all);
    t.regex(lastLine(r.all), /^virtbench: ENOSPC: no space left on device.*\(the run stopped; samples written so far are kept: fix the disk, then --resume\)$/);
    t.true(noStack(r.all ?? ''), 'no stack trace');
    const kept = wholeRuns(dir!);
    t.true(kept >= 1 && kept < 8, `${kept} whole runs kept`);
    const manifest = JSON.parse(readFileSync(join(dir!, 'manifest.json'), 'utf8')) as Manifest;
    t.is(manifest.plannedRuns, 8);

    // still full: --resume is refused before anything starts
    const full = await suite(['--resume', dir!]);
    t.is(full.exitCode, 2, full.all);
    t.regex(full.all ?? '', /^virtbench: --resume .*: 0 KiB free on the file system of .*; this plan needs about \d+ KiB$/);

    // read-only: refused too, nothing changed
    rmSync(filler);
    const before = readFileSync(join(dir!, 'samples.jsonl'), 'utf8');
    await execa('mount', ['-o', 'remount,ro', out]);
    const ro = await suite(['--resume', dir!]);
    t.is(ro.exitCode, 2, ro.all);
    t.regex(ro.all ?? '', /^virtbench: --resume .*: .* is on a read-only file system$/);
    await execa('mount', ['-o', 'remount,rw', out]);
    t.is(readFileSync(join(dir!, 'samples.jsonl'), 'utf8'), before);

    const ok = await suite(['--resume', dir!]);
    t.is(ok.exitCode, 0, ok.all);
    t.is(wholeRuns(dir!), 8);
    const summary = readFileSync(join(dir!, 'summary.csv'), 'utf8');
    t.true(summary.split('\n').length > 2);

    // analyze on a full disk: it fails in one line, and the summary.csv it could not replace is intact
    await execa('sh', ['-c', `dd if=/dev/zero of=${filler} bs=1k 2>/dev/null; true`]);
    const an = await execa(process.execPath, ['--import', 'tsx', 'cli/analyze.ts', dir!], { reject: false, all: true });
    t.is(an.exitCode, 2, an.all);
    t.regex(an.all ?? '', /^virtbench: ENOSPC/);
    t.is(readFileSync(join(dir!, 'summary.csv'), 'utf8'), summary);
    t.deepEqual(readdirSync(dir!).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  });
  t.deepEqual(await leftovers(), []);
});
