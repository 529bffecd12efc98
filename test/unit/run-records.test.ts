import test from 'ava';
import { readFileSync } from 'node:fs';
import { runArtifactsDir, sanitizeCellId, safeArtifactName, tail } from '../../core/artifacts.ts';
import { recordingGuest, type RecordedCommand } from '../../core/recording-guest.ts';
import type { Guest } from '../../core/types.ts';
import { guestMitigationArgs } from '../../drivers/mitigations.ts';

test('guest mitigations follow the host: its /proc/cmdline as captured here gives auto plus its pti switch', (t) => {
  const cmdline = readFileSync(new URL('../fixtures/monitors/proc-cmdline', import.meta.url), 'utf8');
  t.deepEqual(guestMitigationArgs('host', cmdline), { choice: 'host', args: 'mitigations=auto pti=on', label: 'host: mitigations=auto pti=on' });
  // hand-made command lines
  t.is(guestMitigationArgs('host', 'root=/dev/sda1 mitigations=off quiet').args, 'mitigations=off');
  t.is(guestMitigationArgs('host', 'mitigations=auto,nosmt nospectre_v1').args, 'mitigations=auto,nosmt nospectre_v1');
  t.deepEqual(guestMitigationArgs('host', 'root=/dev/vda ro'), { choice: 'host', args: '', label: 'host: kernel default (auto)' });
  t.is(guestMitigationArgs('host', 'ro -- pti=off').args, '', 'arguments after -- belong to init');
  t.deepEqual(guestMitigationArgs('off', cmdline), { choice: 'off', args: 'mitigations=off', label: 'mitigations=off (explicit)' });
});

test('artifact paths: one directory per run, cell ids made path-safe', (t) => {
  t.is(sanitizeCellId('lxc/kernel-compile/none:none/cpuset/hard/x1'), 'lxc_kernel-compile_none_none_cpuset_hard_x1');
  t.is(runArtifactsDir('lxc/kernel-compile/none:none/cpuset/hard/x1', 3, false), 'runs/lxc_kernel-compile_none_none_cpuset_hard_x1#3');
  t.is(runArtifactsDir('a/b', 1, true), 'runs/a_b#w1');
  t.is(safeArtifactName('../../etc/passwd'), '_.._etc_passwd'); // no slash left: it stays in the run's directory
  t.is(safeArtifactName('..'), 'output.txt');
});

test('artifact tails: short text kept whole, long text cut at a line start and said so', (t) => {
  t.is(tail('abc\n', 10), 'abc\n');
  const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
  const cut = tail(long, 40);
  const [first, ...rest] = cut.split('\n');
  t.regex(first!, /^\[first \d+ of \d+ bytes cut; the tail follows\]$/);
  t.true(rest.join('\n').length <= 40);
  t.true(long.endsWith(rest.join('\n')));
  t.regex(rest[0]!, /^line \d+$/);
});

test('the recording guest keeps each command with the environment it started with, and passes it through', async (t) => {
  const calls: string[] = [];
  const fake = {
    name: 'g',
    environment: { PATH: '/bin', HOME: '/root' },
    async sh(script: string) {
      calls.push(script);
      return { exitCode: 0, stdout: 'out', stderr: '', durationMs: 1, timedOut: false };
    },
    address: () => '10.0.0.2',
  } as unknown as Guest;
  const record: RecordedCommand[] = [];
  const g = recordingGuest(fake, record);
  const r = await g.sh('make -j2', { env: { CC: 'gcc' }, cwd: '/w' });
  t.is(r.stdout, 'out');
  t.deepEqual(calls, ['make -j2']);
  t.is(g.address(), '10.0.0.2');
  t.is(record.length, 1);
  t.like(record[0], { kind: 'sh', script: 'make -j2', env: { PATH: '/bin', HOME: '/root', CC: 'gcc' }, cwd: '/w' });
});
