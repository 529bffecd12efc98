// The host lock (core/lock.ts): flock held by a child of the harness, released by the kernel
// however the harness ends. Many processes asking at the same moment: exactly one gets it; a
// killed holder leaves no stale lock; the lock file's content is never what decides.
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../tmp.ts';

const CHILD = join(import.meta.dirname, 'lock-child.ts');
const ROUNDS = Number(process.env.VIRTBENCH_LOCK_ROUNDS ?? 2);
const PROCS = 20;

function firstLine(p: ResultPromise, want?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0 && (want === undefined || buf.slice(0, i) === want || buf.slice(0, i) !== 'ready')) {
        p.stdout!.off('data', onData);
        resolve(buf.slice(0, i));
      }
    };
    p.stdout!.on('data', onData);
    p.catch(reject);
  });
}

function start(lock: string): { proc: ResultPromise; ready: Promise<string> } {
  const proc = execa(process.execPath, ['--import', 'tsx', CHILD], { env: { VIRTBENCH_LOCK: lock }, reject: false, stdin: 'pipe', buffer: false });
  return { proc, ready: firstLine(proc, 'ready') };
}

async function answer(proc: ResultPromise): Promise<string> {
  proc.stdin!.write('go\n');
  return firstLine(proc);
}

test(`${PROCS} simultaneous starts: exactly one holds the lock, ${ROUNDS} rounds`, async (t) => {
  const lock = join(tempDir('vb-lock-'), 'virtbench.lock');
  for (let round = 1; round <= ROUNDS; round++) {
    const procs = Array.from({ length: PROCS }, () => start(lock));
    await Promise.all(procs.map((p) => p.ready));
    // every process is loaded and waiting: tell all of them at once
    const answers = await Promise.all(procs.map((p) => answer(p.proc)));
    const holders = procs.filter((_, i) => answers[i] === 'got');
    t.is(holders.length, 1, `round ${round}: ${answers.join(' | ')}`);
    for (const a of answers.filter((x) => x !== 'got')) t.regex(a, /^busy another virtbench run( \(pid \d+\))? is using this host/);
    for (const h of holders) h.proc.stdin!.write('release\n');
    await Promise.all(procs.map((p) => p.proc));
  }
  t.log(`${ROUNDS} rounds of ${PROCS} simultaneous starts: one holder each`);
});

test('a holder killed with SIGKILL leaves no stale lock; an emptied lock file is not taken over', async (t) => {
  const lock = join(tempDir('vb-lock-'), 'virtbench.lock');
  const a = start(lock);
  await a.ready;
  t.is(await answer(a.proc), 'got');
  // what a reader saw as "free" before: an empty file
  writeFileSync(lock, '');
  const b = start(lock);
  await b.ready;
  t.regex(await answer(b.proc), /^busy another virtbench run is using this host/);
  await b.proc;
  a.proc.kill('SIGKILL');
  await a.proc;
  // the kernel released it with the holder's last descriptor: the next one gets it at once
  const c = start(lock);
  await c.ready;
  const t0 = Date.now();
  t.is(await answer(c.proc), 'got');
  t.true(Date.now() - t0 < 5000);
  c.proc.stdin!.write('release\n');
  await c.proc;
  t.true(existsSync(lock), 'release never deletes the lock file (a deleted file would split the lock)');
});

test('a process that takes the lock, releases it and returns exits by itself with code 0 (release keeps the event loop alive until the holder is gone)', async (t) => {
  const lock = join(tempDir('vb-lock-'), 'virtbench.lock');
  const r = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const { acquireLock } = await import(${JSON.stringify(join(import.meta.dirname, '../../core/lock.ts'))}); const release = await acquireLock(); await release(); console.log('released');`], { env: { VIRTBENCH_LOCK: lock }, reject: false, all: true });
  t.is(r.exitCode, 0, r.all);
  t.is(r.stdout, 'released');
});
