// Issue 12 on containers and bare metal, without guests: the freezer's state files, CRIU's verdict
// line from its real output on this project's host (CRIU 3.17.1 on Linux 6.18, test/fixtures/criu),
// the command lines given to CRIU and lxc-checkpoint, checkpoint stamps, and the memory in use.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryInUse } from '../../drivers/cgroups.ts';
import { criuDumpArgs, criuError, criuReason, criuRestoreArgs, parseCriuVersion } from '../../drivers/criu.ts';
import { freeze, parseFreezerState, parseFrozenEvent, thaw, type Freezer } from '../../drivers/freezer.ts';
import { lxcCheckpointArgs, readdressScript, stampMismatch } from '../../drivers/lxc-criu.ts';

const fixture = (name: string) => readFile(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const VDSO = 'Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds';

test('v1 freezer.state: the three states, and anything else refused', (t) => {
  t.is(parseFreezerState('THAWED\n'), 'THAWED');
  t.is(parseFreezerState('FREEZING\n'), 'FREEZING');
  t.is(parseFreezerState('FROZEN\n'), 'FROZEN');
  t.throws(() => parseFreezerState('frozen'), { message: /unexpected freezer.state/ });
});

test('v2 cgroup.events: the frozen line', (t) => {
  // the first as read on this host from a new group of the v2 hierarchy mounted beside v1
  // (/sys/fs/cgroup/unified); the second hand-made
  t.false(parseFrozenEvent('populated 0\nfrozen 0\n'));
  t.true(parseFrozenEvent('populated 1\nfrozen 1\n'));
  t.throws(() => parseFrozenEvent('populated 1\n'), { message: /no 'frozen' line/ });
});

test('freeze waits for the kernel to say frozen, and thaws again when it does not within the timeout', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-freezer-unit-'));
  try {
    // v2 files that never report frozen: the write is not taken for the result
    const f: Freezer = { version: 2, control: join(dir, 'cgroup.freeze'), status: join(dir, 'cgroup.events') };
    await writeFile(f.control, '0');
    await writeFile(f.status, 'populated 1\nfrozen 0\n');
    const t0 = performance.now();
    await t.throwsAsync(freeze(f, 100), { message: /did not freeze within 0.1 s \(frozen 0\); thawed again/ });
    t.true(performance.now() - t0 >= 100, 'waited its timeout');
    t.is(await readFile(f.control, 'utf8'), '0', 'the request was withdrawn: never left half paused');
    // reported frozen: done
    await writeFile(f.status, 'populated 1\nfrozen 1\n');
    await freeze(f, 100);
    t.is(await readFile(f.control, 'utf8'), '1');
    await t.throwsAsync(thaw(f, 50), { message: /did not thaw/ });
    // v1: one file, written and read
    const v1: Freezer = { version: 1, control: join(dir, 'freezer.state'), status: join(dir, 'freezer.state') };
    await writeFile(v1.control, 'THAWED\n');
    await freeze(v1, 100);
    t.is(await readFile(v1.control, 'utf8'), 'FROZEN');
    await thaw(v1, 100);
    t.is(await readFile(v1.control, 'utf8'), 'THAWED');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("CRIU's error line from its real output here: criu check, dump and restore logs, and lxc-checkpoint's dump log", async (t) => {
  t.is(parseCriuVersion(await fixture('criu/version-3.17.1.txt')), '3.17.1');
  for (const f of ['check-3.17.1-linux-6.18.txt', 'dump-3.17.1-linux-6.18.log.txt', 'restore-3.17.1-linux-6.18.log.txt', 'lxc-checkpoint-dump-3.17.1-linux-6.18.log.txt']) {
    t.is(criuError(await fixture(`criu/${f}`)), VDSO, f);
  }
  // hand-made: no Error line, then its last line
  t.is(criuError('(00.1) Version: 3.17.1\n(00.2) something odd\n\n'), 'something odd');
  t.is(criuError(''), undefined);
});

test('the verdict is one line: the step, CRIU version, kernel and CRIU\'s first error', async (t) => {
  const reason = criuReason('criu check', await fixture('criu/check-3.17.1-linux-6.18.txt'), '3.17.1', '6.18.44-fc-v1045');
  t.is(reason, `criu check failed (CRIU 3.17.1, Linux 6.18.44-fc-v1045): ${VDSO}`);
  t.false(reason.includes('\n'));
  t.is(criuReason('criu dump', '', undefined, 'k'), 'criu dump failed (CRIU ?, Linux k): no output');
});

test('CRIU command lines of the probe', (t) => {
  t.deepEqual(criuDumpArgs({ pid: 42, dir: '/d', log: '/d/dump.log', leaveRunning: false }), ['dump', '--tree', '42', '--images-dir', '/d', '--log-file', '/d/dump.log', '-v4']);
  t.deepEqual(criuDumpArgs({ pid: 42, dir: '/d', log: 'l', leaveRunning: true }).slice(-1), ['--leave-running']);
  t.deepEqual(criuRestoreArgs({ dir: '/d', log: '/d/r.log', pidfile: '/p' }), ['restore', '--images-dir', '/d', '--log-file', '/d/r.log', '-v4', '--restore-detached', '--pidfile', '/p']);
});

test('lxc-checkpoint command lines: dump, dump and stop, pre-dump chains, restore', (t) => {
  const base = { lxcPath: '/s/lxc', name: 'g1', dir: '/c/final', log: '/s/lxc/g1/lxc-checkpoint.log' };
  const common = ['-P', '/s/lxc', '-n', 'g1', '-D', '/c/final', '-o', '/s/lxc/g1/lxc-checkpoint.log', '-l', 'INFO', '-v'];
  t.deepEqual(lxcCheckpointArgs({ ...base, mode: 'dump' }), common, 'leave running: no -s');
  t.deepEqual(lxcCheckpointArgs({ ...base, mode: 'dump-stop' }), [...common, '-s']);
  t.deepEqual(lxcCheckpointArgs({ ...base, mode: 'dump-stop', predumpDir: '../pre2' }), [...common, '-s', '--predump-dir', '../pre2']);
  t.deepEqual(lxcCheckpointArgs({ ...base, mode: 'pre-dump', predumpDir: '../pre1' }), [...common, '-p', '--predump-dir', '../pre1']);
  t.deepEqual(lxcCheckpointArgs({ ...base, mode: 'restore' }), [...common, '-r', '-d']);
});

test('a checkpoint of another harness, kernel or tool is refused in one line', (t) => {
  const ours = { harness: 'abc', kernel: '6.18', tool: 'criu 3.17.1, lxc 5.0.2' };
  t.is(stampMismatch(ours, { ...ours }), undefined);
  t.is(stampMismatch({ ...ours, kernel: '6.1' }, ours), 'the checkpoint was written by another kernel (6.1; here 6.18): not restored');
  t.regex(stampMismatch({ ...ours, harness: 'def' }, ours)!, /another harness \(def; here abc\)/);
  t.regex(stampMismatch({ ...ours, tool: 'criu 4.0' }, ours)!, /another tool/);
});

test('a restored container gets its own address', (t) => {
  t.is(readdressScript({ address: '10.99.0.7', gateway: '10.99.0.1' }), 'ip -4 addr flush dev eth0 && ip addr add 10.99.0.7/24 broadcast 10.99.0.255 dev eth0 && ip route replace default via 10.99.0.1');
});

test('memory in use: v1 total_rss + total_mapped_file from a real memory.stat; v2 anon + file_mapped', async (t) => {
  const v1 = await fixture('cgroups/memory.stat-v1-root.txt');
  const field = (n: string) => Number(v1.match(new RegExp(`^${n} (\\d+)$`, 'm'))![1]);
  t.is(memoryInUse(v1, 1), field('total_rss') + field('total_mapped_file'));
  t.true(memoryInUse(v1, 1)! < field('total_rss') + field('total_cache') + field('total_mapped_file'), 'page cache not mapped is left out');
  // hand-made v2 excerpt (this host has no v2 memory controller)
  t.is(memoryInUse('anon 1000\nfile 5000\nkernel 7\nfile_mapped 300\nshmem 0\n', 2), 1300);
  t.is(memoryInUse('cache 1\nrss 2\n', 1), undefined, 'a group without the totals says nothing rather than a wrong number');
});
