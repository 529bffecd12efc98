// Issue 12 on a real kvm guest (TCG where KVM cannot boot one): the capabilities probe's verdicts,
// then one guest through every capability in a chain: pause/resume (a counter in the guest does
// not advance while paused), checkpoint + restore (a file and a Redis key set before are there
// after, at the restored guest's own address), the bad inputs (read-only and full checkpoint
// directories, another harness's stamp, a missing file: one line each, the source runs on), a
// migration that cannot converge in time (cancelled, the source runs on), a live migration (QEMU's
// figures > 0, the same Guest object drives the destination, its address still answers), a hot
// clone with its own address, and no QEMU, tap or directory left. Figures are logged (t.log).
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupAll } from '../../core/cleanup.ts';
import { STATE_DIR } from '../../core/host.ts';
import type { Checkpoint, Guest, GuestSpec } from '../../core/types.ts';
import kvm, { KvmGuest } from '../../drivers/kvm.ts';
import { CHECKPOINT_FILES } from '../../drivers/vm-state.ts';
import { vmLeftovers } from './leftovers.ts';
import { smokeContext } from '../smoke-context.ts';

const ctx = smokeContext;
const MiB = 1024 ** 2;

const spec = (name: string): GuestSpec => ({
  name, vcpus: 1, cpus: [0, 1], cpuPolicy: 'shares', cpuShares: 1024, memoryBytes: 512 * MiB, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 256, network: true, shares: [],
});

/** Redis at a guest's address, asked from the host (the address works, the server survived). */
async function redis(address: string, ...args: string[]): Promise<string> {
  const r = await execa('redis-cli', ['-h', address, '--no-raw', ...args], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 ? r.stdout.trim() : `failed: ${r.stderr.trim() || r.exitCode}`;
}

async function redisSoon(address: string, ...args: string[]): Promise<string> {
  let got = '';
  for (let i = 0; i < 10; i++) {
    got = await redis(address, ...args);
    if (!got.startsWith('failed')) return got;
    await new Promise((r) => setTimeout(r, 500));
  }
  return got;
}

const counter = async (g: Guest) => Number((await g.sh('cat /var/tmp/counter')).stdout.trim());
const ms = (t0: number) => performance.now() - t0;

test.after.always(async () => {
  await cleanupAll();
});

test.serial('kvm: probe verdicts; pause, checkpoint/restore, bad inputs, migration (failed and live), clone; nothing left', async (t) => {
  t.timeout(400_000);
  const tStart = Date.now();
  await kvm.sweep?.();
  await kvm.prepare!(ctx);
  const tCaps = performance.now();
  const caps = await kvm.capabilities!(ctx.profile.name);
  t.log(`capabilities probed in ${(ms(tCaps) / 1000).toFixed(1)} s: ${JSON.stringify(caps)}`);
  for (const k of ['pause', 'checkpoint', 'migrate', 'clone'] as const) t.true(caps[k].ok, `${k}: ${caps[k].reason}`);
  t.is(await kvm.capabilities!(ctx.profile.name), caps, 'probed once per process');

  const g = (await kvm.provision(spec('vbct-a'), ctx)) as KvmGuest;
  const cpRoot = await mkdtemp(join(STATE_DIR, '.vbct-cp-'));
  const extra: Guest[] = [];
  try {
    await g.sh("redis-server --daemonize yes --bind 0.0.0.0 --protected-mode no --save '' --appendonly no", { timeoutMs: 30_000 });
    t.is(await redisSoon(g.address()!, 'SET', 'k', 'before'), 'OK');
    const loop = g.spawn('i=0; while :; do i=$((i+1)); echo $i > /var/tmp/counter.new; mv /var/tmp/counter.new /var/tmp/counter; sleep 0.05; done');

    // pause: the counter stands still while QEMU is stopped
    await new Promise((r) => setTimeout(r, 1000));
    const c0 = await counter(g);
    await new Promise((r) => setTimeout(r, 2000));
    const running = (await counter(g)) - c0;
    const c1 = await counter(g);
    let t0 = performance.now();
    await g.pause();
    const pauseMs = ms(t0);
    await new Promise((r) => setTimeout(r, 2000));
    t0 = performance.now();
    await g.resume();
    const resumeMs = ms(t0);
    const paused = (await counter(g)) - c1;
    t.log(`pause ${pauseMs.toFixed(1)} ms, resume ${resumeMs.toFixed(1)} ms; counter +${running} in 2 s running, +${paused} across 2 s paused`);
    t.true(running >= 5, 'the counter advances while running');
    t.true(paused < running / 2, 'the counter does not advance while paused');

    // checkpoint (the guest goes on) and a restore at its own address
    await g.sh('echo kept > /var/tmp/before-checkpoint');
    const dir = join(cpRoot, 'a');
    await mkdir(dir);
    t0 = performance.now();
    const cp = await g.checkpoint(dir, { leaveRunning: true });
    const cpWall = ms(t0);
    t.log(`checkpoint: ${(cpWall / 1000).toFixed(2)} s wall (${cp.seconds.toFixed(2)} s, frozen ${cp.frozenS?.toFixed(2)} s), ${(cp.bytes / MiB).toFixed(1)} MiB on disk (memory ${(readFileSync(join(dir, CHECKPOINT_FILES.memory)).length / MiB).toFixed(1)} MiB), stamp ${JSON.stringify(cp.stamp)}`);
    t.true(cp.bytes > 10 * MiB && cp.seconds > 0);
    t.regex(cp.stamp.tool, /^qemu \d+\.\d+/);
    t.is(cp.stamp.kernel, (await execa('uname', ['-r'])).stdout.trim());
    t.is((await g.sh('echo alive')).stdout.trim(), 'alive', 'leaveRunning: the source goes on');
    await redis(g.address()!, 'SET', 'k', 'after-checkpoint');
    t0 = performance.now();
    const r = await kvm.restore!(spec('vbct-r'), cp, ctx);
    extra.push(r);
    const restoreMs = ms(t0);
    t.log(`restore to agent ready and readdressed: ${(restoreMs / 1000).toFixed(2)} s (${r.address()})`);
    t.not(r.address(), g.address());
    t.is((await r.sh('cat /var/tmp/before-checkpoint')).stdout.trim(), 'kept', 'a file written before is there');
    t.is(await redisSoon(r.address()!, 'GET', 'k'), '"before"', "the process's state survives, at the restored guest's address");
    t.is(await redis(g.address()!, 'GET', 'k'), '"after-checkpoint"', 'the source answers at its own address');
    await r.destroy();

    // bad input: one line each, the source runs on
    const stampBad = join(cpRoot, 'stamp');
    await execa('cp', ['-r', dir, stampBad]);
    const meta = JSON.parse(readFileSync(join(stampBad, CHECKPOINT_FILES.meta), 'utf8'));
    meta.checkpoint.stamp.harness = 'another-commit';
    await writeFile(join(stampBad, CHECKPOINT_FILES.meta), JSON.stringify(meta));
    const e1 = await t.throwsAsync(kvm.restore!(spec('vbct-x'), { ...cp, dir: stampBad } as Checkpoint, ctx));
    t.regex(e1!.message, /written by harness another-commit/);
    await rm(join(stampBad, CHECKPOINT_FILES.memory));
    const e2 = await t.throwsAsync(kvm.restore!(spec('vbct-x'), { ...cp, dir: stampBad } as Checkpoint, ctx));
    t.regex(e2!.message, /memory\.state is missing/);
    t.false(e1!.message.includes('\n') || e2!.message.includes('\n'), 'one line');
    for (const [opts, cause] of [['ro', /read-only file system/], ['size=1m', /no space left/]] as const) {
      const mnt = join(cpRoot, `mnt-${opts}`);
      await mkdir(mnt);
      await execa('mount', ['-t', 'tmpfs', '-o', opts, 'vbct', mnt]);
      try {
        const e = await t.throwsAsync(g.checkpoint(mnt, { leaveRunning: true }));
        t.regex(e!.message, cause);
      } finally {
        await execa('umount', [mnt]);
      }
    }
    t.is((await g.sh('echo alive')).stdout.trim(), 'alive', 'the source runs on after refused checkpoints');

    // a migration that cannot finish in time: cancelled, no second QEMU, the source runs on
    const pid0 = g.qemuPid;
    const eMig = await t.throwsAsync(g.migrate({ timeoutS: 0.05 }));
    t.regex(eMig!.message, /did not converge within 0.05 s.*cancelled/);
    t.is(g.qemuPid, pid0);
    t.is((await g.sh('echo alive')).stdout.trim(), 'alive');
    t.is((await execa('pgrep', ['-f', `${g.dir}/m`], { reject: false })).stdout, '', 'no destination QEMU left');

    // live migration of the running guest (the counter loop and Redis running)
    const stats = await g.migrate({ timeoutS: 120 });
    t.log(`live migration: total ${stats.totalS.toFixed(2)} s, downtime ${stats.downtimeMs} ms, ${(stats.bytes / MiB).toFixed(1)} MiB sent of ${((stats.memoryBytes ?? 0) / MiB).toFixed(0)} MiB RAM, ${JSON.stringify(stats.detail)}`);
    t.true(stats.totalS > 0 && stats.bytes > 0 && stats.downtimeMs > 0);
    t.not(g.qemuPid, pid0, 'the guest now runs in another QEMU');
    t.false(existsSync(`/proc/${pid0}`), 'the source QEMU is gone');
    t.regex(readFileSync(`/proc/${g.qemuPid}/cgroup`, 'utf8'), /\/vbct-a$/m, "the destination QEMU is in the guest's cgroup");
    t.true(g.watchdogScript().length > 0);
    t.is(await redisSoon(g.address()!, 'GET', 'k'), '"after-checkpoint"', 'its address answers after the migration');
    const c2 = await counter(g);
    await new Promise((r) => setTimeout(r, 1000));
    t.true((await counter(g)) > c2, 'the counter loop runs on at the destination');
    loop.kill('SIGKILL');
    const ended = await loop.done;
    t.not(ended.exitCode, 0, 'a command started before the migration is still driven (killed) after it');

    // hot clone: its own address, the source's memory (Redis and its key)
    t0 = performance.now();
    const c = await kvm.clone!(g, spec('vbct-c'), ctx);
    extra.push(c);
    const cloneMs = ms(t0);
    t.log(`clone: ${(cloneMs / 1000).toFixed(2)} s to a readdressed clone (${c.address()})`);
    t.not(c.address(), g.address());
    t.is(await redisSoon(c.address()!, 'GET', 'k'), '"after-checkpoint"', 'the clone serves the source memory at its own address');
    await redis(c.address()!, 'SET', 'k', 'clone');
    t.is(await redisSoon(g.address()!, 'GET', 'k'), '"after-checkpoint"', 'the source is a separate guest at its address');
    await c.destroy();
  } finally {
    for (const x of extra) await x.destroy();
    const dir = g.dir;
    await g.destroy();
    await rm(cpRoot, { recursive: true, force: true });
    t.false(existsSync(dir), 'no guest directory');
  }
  await cleanupAll();
  t.deepEqual(await vmLeftovers(), []);
  t.deepEqual(readdirSync(join(STATE_DIR, 'kvm')).filter((d) => d.startsWith('vbct') || d.startsWith('vbcaps')), []);
  t.log(`test wall time ${((Date.now() - tStart) / 1000).toFixed(0)} s`);
});
