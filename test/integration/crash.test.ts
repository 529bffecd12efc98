// SIGKILL at random moments of a small LXC run (while the fork bomb runs, right at a sample write,
// anywhere): the next run of another platform (bare metal) sweeps everything the killed one left
// (containers, cgroups, bridge, the bomb, its watchdog), `--resume` completes the plan, and every
// samples.jsonl is valid with all metric lines of every run. VIRTBENCH_CRASH_TRIALS sets the
// number of trials (default 3, about 40 s each; the issue's measurement used 20).
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupLayout } from '../../drivers/cgroups.ts';
import { BOMB } from '../../workloads/fork-bomb.ts';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { leftovers } from './leftovers.ts';
import { tempDir } from '../tmp.ts';

const TRIALS = Number(process.env.VIRTBENCH_CRASH_TRIALS ?? 3);
const ENTRY = join(import.meta.dirname, 'crash-suite.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const suite = (args: string[]) => execa(process.execPath, ['--import', 'tsx', ENTRY, ...args], { reject: false, all: true, env: { CI: '1' } });

function resultDir(out: string): string | undefined {
  const root = join(out, 'crashtest');
  if (!existsSync(root)) return undefined;
  const [d] = readdirSync(root);
  return d ? join(root, d) : undefined;
}

/** Processes the harness leaves only when something went wrong: the bomb, and adversary watchdogs. */
async function strayProcesses(): Promise<string[]> {
  const found: string[] = [];
  const bomb = await execa('pgrep', ['-a', '-f', BOMB.replace(/[|&(){}$]/g, '.')], { reject: false });
  for (const l of bomb.stdout.split('\n').filter(Boolean)) found.push(`fork bomb ${l}`);
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('virtbench-watchdog')) found.push(`watchdog ${pid}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

/** Highest pids.current of a fork-bomb container right now. */
function bombPids(): number {
  const mount = cgroupLayout().mounts.pids;
  if (!mount) return 0;
  let most = 0;
  const scan = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name.includes('fork-bomb')) {
        try {
          most = Math.max(most, Number(readFileSync(join(dir, e.name, 'pids.current'), 'utf8')));
        } catch {
          /* gone */
        }
      }
    }
  };
  scan(mount);
  return most;
}

function checkSamples(t: import('ava').ExecutionContext, dir: string, label: string): number {
  const text = readFileSync(join(dir, 'samples.jsonl'), 'utf8');
  t.true(text === '' || text.endsWith('\n'), `${label}: ends with a whole line`);
  const samples = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sample);
  const byRun = new Map<string, string[]>();
  for (const s of samples) byRun.set(`${s.cell}#${s.rep}`, [...(byRun.get(`${s.cell}#${s.rep}`) ?? []), s.metric]);
  for (const [run, metrics] of byRun) t.deepEqual(metrics.sort(), ['sum', 'tick_s'], `${label}: run ${run} has each metric line once`);
  return byRun.size;
}

test(`SIGKILL at ${TRIALS} moments of a small lxc run: another platform's run sweeps everything, --resume completes the plan`, async (t) => {
  t.deepEqual([...(await leftovers()), ...(await strayProcesses())], [], 'nothing left before the test');
  const outcomes: string[] = [];
  const kinds = ['bomb', 'write', 'random'] as const;
  for (let trial = 0; trial < TRIALS; trial++) {
    const kind = kinds[trial % kinds.length]!;
    const t0 = Date.now();
    const out = tempDir('vb-crash-');
    const child: ResultPromise = suite(['--profile', 'smoke', '--platforms', 'lxc', '--reps', '1', '--out', out, '--seed', String(100 + trial)]);
    let moment = '';
    const deadline = Date.now() + 120_000;
    if (kind === 'bomb') {
      while (Date.now() < deadline && child.exitCode === null && bombPids() < 100) await sleep(50);
      moment = `fork bomb at ${bombPids()} pids`;
    } else if (kind === 'write') {
      // right after the first run's lines reach the file, then the file is torn at a random byte of
      // that run (what a kill inside the write, or a full disk, would leave)
      let size = 0;
      while (Date.now() < deadline && child.exitCode === null) {
        const dir = resultDir(out);
        size = dir && existsSync(join(dir, 'samples.jsonl')) ? statSync(join(dir, 'samples.jsonl')).size : 0;
        if (size > 0) break;
        await sleep(5);
      }
      moment = `sample write (${size} bytes)`;
    } else {
      const ms = 500 + Math.floor(Math.random() * 19_500);
      await sleep(ms);
      moment = `${(ms / 1000).toFixed(1)} s after start`;
    }
    const finishedFirst = child.exitCode !== null;
    child.kill('SIGKILL');
    const killed = await child;
    const dir = resultDir(out);
    const samplesFile = dir && join(dir, 'samples.jsonl');
    if (kind === 'write' && samplesFile && existsSync(samplesFile)) {
      const size = statSync(samplesFile).size;
      const cut = Math.floor(Math.random() * size);
      truncateSync(samplesFile, cut);
      moment += `, torn at byte ${cut}`;
    }
    const left = [...(await leftovers()), ...(await strayProcesses())];

    // the next run is of another platform: it must sweep what the killed LXC run left
    const other = await suite(['--profile', 'smoke', '--platforms', 'baremetal', '--neighbours', 'none', '--reps', '1', '--out', tempDir('vb-crash-bm-'), '--seed', '1']);
    t.is(other.exitCode, 0, `trial ${trial}: ${(other.all ?? '').split('\n').slice(-8).join('\n')}`);
    const swept = (other.all ?? '').split('\n').filter((l) => l.includes('removed leftover')).length;
    t.deepEqual([...(await leftovers()), ...(await strayProcesses())], [], `trial ${trial} (${moment}): nothing left after a bare-metal run`);

    let resumed = 'no manifest yet: nothing to resume';
    if (dir && existsSync(join(dir, 'manifest.json'))) {
      const r = await suite(['--resume', dir]);
      t.is(r.exitCode, 0, `trial ${trial}: ${(r.all ?? '').split('\n').slice(-8).join('\n')}`);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
      t.is(checkSamples(t, dir, `trial ${trial}`), manifest.plannedRuns, `trial ${trial}: every planned run recorded`);
      t.true(existsSync(join(dir, 'summary.csv')));
      const repaired = (r.all ?? '').split('\n').filter((l) => l.startsWith('virtbench: ') || l.includes('resume: removed'));
      resumed = `resumed to ${manifest.plannedRuns} runs${repaired.length ? ` (${repaired.join('; ')})` : ''}`;
      t.deepEqual([...(await leftovers()), ...(await strayProcesses())], [], `trial ${trial}: nothing left after --resume`);
    }
    const line = `trial ${trial + 1}: SIGKILL at ${moment}${finishedFirst ? ' (the run had already ended)' : ''} (exit ${killed.signal ?? killed.exitCode}); left ${left.length} item(s); bare-metal run swept ${swept}; ${resumed}; ${((Date.now() - t0) / 1000).toFixed(0)} s`;
    outcomes.push(line);
    t.log(line);
    console.error(line); // as it happens: a long measurement (VIRTBENCH_CRASH_TRIALS=20) shows its progress
  }
  t.is(outcomes.length, TRIALS);
});
