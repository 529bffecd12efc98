// The guest `$` against a hand-made guest whose sh() really runs the script in dash (Debian's
// /bin/sh, the strictest shell a guest may have), recording the options it was given.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { GuestCommandError } from '../../core/errors.ts';
import { guestShell } from '../../core/guest-shell.ts';
import type { ExecOptions, ExecResult, GuestProcess } from '../../core/types.ts';
import { fakeGuest } from '../fake-guest.ts';

function dashGuest() {
  const calls: { script: string; opts: ExecOptions | undefined }[] = [];
  const spawned: string[] = [];
  const guest = fakeGuest(
    { name: 'g1', vcpus: 1, cpus: [0], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 2 ** 30, memoryLimit: 'hard', ioWeight: 500, pidsMax: 64, network: false, shares: [] },
    {
      sh: async (script: string, opts?: ExecOptions): Promise<ExecResult> => {
        calls.push({ script, opts });
        const r = spawnSync('dash', ['-c', script], { encoding: 'utf8', input: opts?.input, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts?.env } });
        return { exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, durationMs: 0, timedOut: false };
      },
      spawn: (script: string): GuestProcess => {
        spawned.push(script);
        const child = spawn('dash', ['-c', script], { stdio: 'ignore' });
        return { pid: child.pid, done: new Promise((resolve) => child.on('exit', (code) => resolve({ exitCode: code ?? -1, stdout: '', stderr: '', durationMs: 0, timedOut: false }))), kill: (s) => void child.kill(s) };
      },
    },
  );
  return { guest, calls, spawned };
}

test('values reach the guest command as the words written, quoted for dash', async (t) => {
  const { guest, calls } = dashGuest();
  const $g = guestShell(guest);
  const dir = "/tmp/it's a dir";
  const r = await $g`printf '<%s>\n' ${dir} ${['$(id)', '`id`', '', 'a\nb']} ${6379}`;
  t.is(r.exitCode, 0);
  t.is(r.stdout, `<${dir}>\n<$(id)>\n<\`id\`>\n<>\n<a\nb>\n<6379>\n`);
  // the template's text is taken as written (cooked, as in zx and plain template literals)
  t.is(calls[0]!.script, `printf '<%s>\n' '/tmp/it'\\''s a dir' '$(id)' '\`id\`' '' 'a\nb' '6379'`);
  t.is(calls[0]!.opts?.check, false);
});

test('a non-zero exit throws GuestCommandError naming the guest, the command and the tail of stderr', async (t) => {
  const { guest } = dashGuest();
  const $g = guestShell(guest);
  const err = await t.throwsAsync($g`echo one >&2; echo two >&2; exit ${3}`, { instanceOf: GuestCommandError });
  t.is(err?.message, "in guest g1: `echo one >&2; echo two >&2; exit '3'` exited 3: one | two");
  t.is((err as GuestCommandError).result.exitCode, 3);
});

test('nothrow() makes any exit code a result; text() is the trimmed stdout', async (t) => {
  const { guest } = dashGuest();
  const $g = guestShell(guest);
  t.is((await $g`test -f ${'/nonexistent/x y'}`.nothrow()).exitCode, 1);
  t.is(await $g`printf '  %s\n\n' ${'PONG'}`.text(), 'PONG');
  await t.throwsAsync($g`false`.text(), { instanceOf: GuestCommandError });
});

test('$g(options) adds options for its commands only, as zx $({...}) does', async (t) => {
  const { guest, calls } = dashGuest();
  const ac = new AbortController();
  const $g = guestShell(guest, { signal: ac.signal, timeoutMs: 1000 });
  const $long = $g({ timeoutMs: 600_000, env: { WHO: 'w x' } });
  t.is(await $long`printf %s "$WHO"`.text(), 'w x');
  await $g`true`;
  t.deepEqual(calls[0]!.opts, { signal: ac.signal, timeoutMs: 600_000, env: { WHO: 'w x' }, check: false });
  t.deepEqual(calls[1]!.opts, { signal: ac.signal, timeoutMs: 1000, check: false });
  t.is(await $g({ input: 'from stdin' })`cat`.text(), 'from stdin');
});

test('a failure of the guest transport rejects where the command is awaited', async (t) => {
  const guest = dashGuest().guest;
  guest.sh = async () => {
    throw new Error('agent gone');
  };
  const cmd = guestShell(guest)`true`;
  await new Promise((r) => setTimeout(r, 10)); // no unhandled rejection before the await
  await t.throwsAsync(cmd.nothrow(), { message: 'agent gone' });
});

test('spawn starts the quoted command line in the background', async (t) => {
  const { guest, spawned } = dashGuest();
  const p = guestShell(guest).spawn`exit ${7}`;
  t.is((await p.done).exitCode, 7);
  t.deepEqual(spawned, [`exit '7'`]);
});

test("withContext (drivers' env and cwd prefix) hands dash hostile values unchanged", async (t) => {
  const { withContext } = await import('../../drivers/guest-process.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync("/tmp/vb it's ");
  try {
    const env = { A: "it's $(id) `id`\nnext", B: '' };
    const r = spawnSync('dash', ['-c', withContext(`printf '<%s>' "$A" "$B" "$PWD"`, { env, cwd: dir })], { encoding: 'utf8' });
    t.is(r.stdout, `<${env.A}><><${dir}>`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
