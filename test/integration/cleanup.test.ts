// Nothing the harness created survives a run that fails, or one interrupted by SIGINT or SIGTERM
// mid-run; an interrupted run resumes without repeating or losing finished samples.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SuiteDefinition } from '../../core/matrix.ts';
import { runSuite } from '../../runner/index.ts';
import type { Sample, Workload } from '../../core/types.ts';
import { LXC_PATH } from '../../drivers/lxc.ts';
import { WORKLOADS } from '../../workloads/index.ts';
import { leftovers } from './leftovers.ts';
import { tempDir } from '../tmp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const readSamples = (dir: string) =>
  readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sample);
const onlyDir = (root: string) => join(root, 'isolation', readdirSync(join(root, 'isolation'))[0]!);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} mid-run: exit code, no leftovers, and --resume completes the run`, async (t) => {
    const out = tempDir(`vb-${signal}-`);
    const args = ['--import', 'tsx', 'cli/suite.ts', 'isolation', '--profile', 'smoke', '--platforms', 'lxc', '--workloads', 'filebench', '--neighbours', 'competing', '--reps', '1', '--out', out, '--seed', '3'];
    const child = execa(process.execPath, args, { reject: false, all: true, env: { CI: '1' } });
    // wait for the first finished run, then for guests of the next one to exist
    const t0 = Date.now();
    while (Date.now() - t0 < 300_000) {
      const dir = existsSync(join(out, 'isolation')) ? onlyDir(out) : undefined;
      const done = dir && existsSync(join(dir, 'samples.jsonl')) && readFileSync(join(dir, 'samples.jsonl'), 'utf8').length > 0;
      if (done && existsSync(LXC_PATH) && readdirSync(LXC_PATH).length > 0) break;
      await sleep(200);
    }
    t.true(readdirSync(LXC_PATH).length > 0, 'a container existed when the signal was sent');
    // straight to the harness process, as a Ctrl-C or a service manager would
    child.kill(signal);
    const r = await child;
    t.is(r.exitCode, signal === 'SIGINT' ? 130 : 143, (r.all ?? '').split('\n').slice(-10).join('\n'));
    t.deepEqual(await leftovers(), []);
    const dir = onlyDir(out);
    const before = readSamples(dir);
    t.true(before.length > 0);

    const resumed = await execa(process.execPath, ['--import', 'tsx', 'cli/suite.ts', 'isolation', '--resume', dir], { reject: false, all: true, env: { CI: '1' } });
    t.is(resumed.exitCode, 0, resumed.all);
    const after = readSamples(dir);
    const keys = after.map((s) => `${s.cell}#${s.rep}#${s.metric}`);
    t.is(new Set(keys).size, keys.length, 'no run repeated');
    // two cells (alone, beside the competing neighbour) of one run each: the signal lands in the second
    t.is(new Set(after.map((s) => `${s.cell}#${s.rep}`)).size, 2, 'every planned run present');
    t.deepEqual(after.slice(0, before.length), before, 'finished samples kept as they were');
    t.true(existsSync(join(dir, 'summary.csv')));
    t.deepEqual(await leftovers(), []);
  });
}

test('a failing workload is recorded as error with its message; the suite goes on and cleans up', async (t) => {
  const failing: Workload = {
    name: 'always-fails',
    resource: 'cpu',
    description: 'fails in its measured part, after its guest was provisioned',
    metrics: [{ metric: 'x', unit: 's', better: 'lower' }],
    guestPackages: [],
    async setup(g) {
      await g.sh(`echo prepared > ${g.workdir}/marker`);
    },
    async run(g) {
      await g.sh('echo "disk on fire" >&2; exit 3');
      return [];
    },
  };
  WORKLOADS[failing.name] = failing;
  const def: SuiteDefinition = {
    name: 'isolation',
    description: 'test',
    reference: 'no-neighbour',
    platforms: ['baremetal', 'lxc'],
    rows: [{ resource: 'cpu', workload: 'always-fails', neighbours: { adversarial: 'fork-bomb' } }],
  };
  const out = tempDir('vb-fail-');
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  try {
    const code = await runSuite(def, ['--profile', 'smoke', '--reps', '1', '--out', out, '--seed', '5'], io);
    t.is(code, 1, lines.join('\n'));
  } finally {
    delete WORKLOADS[failing.name];
  }
  const samples = readSamples(onlyDir(out));
  t.is(samples.length, 4, 'every run recorded');
  for (const s of samples) {
    t.is(s.status, 'error');
    t.regex(s.message ?? '', /exited 3: disk on fire/);
  }
  t.deepEqual(await leftovers(), []);
});
