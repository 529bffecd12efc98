// Issue 12 on containers and bare metal: each platform's probed capabilities are what its guests
// do. Pause stops a counter in the guest and resume starts it again; a capability refused here
// (CRIU 3.17 on this kernel) has a one-line reason and its methods refuse with it; a paused guest
// can still be destroyed; nothing is left. About a minute (docker starts its daemon).
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll } from '../../core/cleanup.ts';
import { ensurePackages } from '../../core/host.ts';
import type { Capabilities, Guest, GuestSpec } from '../../core/types.ts';
import { cgroupLayout } from '../../drivers/cgroups.ts';
import { freeze, freezerOf, isFrozen, thaw } from '../../drivers/freezer.ts';
import { DRIVERS } from '../../drivers/index.ts';
import { smokeContext as ctx } from '../smoke-context.ts';
import { leftovers } from './leftovers.ts';

const PLATFORMS = ['baremetal', 'lxc', 'docker'];

const spec = (name: string): GuestSpec => ({
  name, vcpus: 1, cpus: [1], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 256 * 1024 ** 2, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 64, network: false, shares: [],
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  await ensurePackages(PLATFORMS.flatMap((p) => DRIVERS[p]!.hostPackages), ctx.log);
  for (const d of Object.values(DRIVERS)) await d.sweep?.();
});

test.after.always(async () => {
  await cleanupAll();
});

/** The counter the guest writes, read from the host through the guest's own file view. */
async function counter(g: Guest, scratch: string): Promise<number> {
  const local = join(scratch, `${g.name}-counter`);
  await rm(local, { force: true });
  await g.pullFile(`${g.workdir}/counter`, local);
  return Number((await readFile(local, 'utf8')).trim()) || 0;
}

function assertVerdicts(t: import('ava').ExecutionContext, platform: string, caps: Capabilities): void {
  for (const [name, c] of Object.entries(caps)) {
    t.log(`${platform} ${name}: ${c.ok ? `ok (${c.how})` : `no: ${c.reason}`}`);
    if (!c.ok) {
      t.truthy(c.reason?.trim(), `${platform} ${name}: a refused capability says why`);
      t.false(/\n/.test(c.reason ?? ''), `${platform} ${name}: the reason is one line`);
    }
  }
}

for (const platform of PLATFORMS) {
  test.serial(`${platform}: probed capabilities match what the guest does; pause stops a counter, resume restarts it`, async (t) => {
    const driver = DRIVERS[platform]!;
    const probe = await driver.probe();
    t.true(probe.ok, probe.reason);
    const caps = await driver.capabilities!();
    assertVerdicts(t, platform, caps);
    t.true(caps.pause.ok, 'the freezer works on this host (cgroup v1 freezer)');
    t.is(await driver.capabilities!(), caps, 'probed once per process');
    await driver.prepare?.(ctx);
    const scratch = await mkdtemp(join(tmpdir(), 'vb-ct-caps-'));
    const g = await driver.provision(spec(`vb-it-caps-${platform}`), ctx);
    let destroyed = false;
    try {
      t.is(typeof g.pause, 'function');
      t.is(typeof g.resume, 'function');
      const loop = g.spawn(`i=0; while :; do i=$((i+1)); echo $i > ${g.workdir}/counter.tmp && mv ${g.workdir}/counter.tmp ${g.workdir}/counter; sleep 0.02; done`);
      let n = 0;
      for (let i = 0; i < 100 && n < 3; i++, await sleep(50)) n = await counter(g, scratch).catch(() => 0);
      t.true(n >= 3, `the counter runs (${n})`);

      const t0 = performance.now();
      await g.pause!();
      const pauseMs = performance.now() - t0;
      const frozen = await counter(g, scratch);
      await sleep(500);
      const later = await counter(g, scratch);
      t.is(later, frozen, `paused: the counter stays at ${frozen}`);
      const use = await g.usage();
      t.log(`${platform}: pause ${pauseMs.toFixed(1)} ms; memory in use ${((use.memoryInUseBytes ?? NaN) / 2 ** 20).toFixed(1)} MiB of ${((use.memoryBytes ?? NaN) / 2 ** 20).toFixed(1)} MiB charged`);
      t.true((use.memoryInUseBytes ?? 0) > 0, 'memory in use is read from the guest cgroup');
      t.true((use.memoryInUseBytes ?? 0) <= (use.memoryBytes ?? 0), 'memory in use is part of what the cgroup is charged');

      const t1 = performance.now();
      await g.resume!();
      const resumeMs = performance.now() - t1;
      let after = later;
      for (let i = 0; i < 40 && after <= later; i++, await sleep(50)) after = await counter(g, scratch);
      t.true(after > later, `resumed: the counter goes on (${later} -> ${after})`);
      t.log(`${platform}: resume ${resumeMs.toFixed(1)} ms`);

      // a refused capability: its method is absent or refuses with the probe's reason
      const dir = await mkdtemp(join(tmpdir(), 'vb-ct-caps-cp-'));
      try {
        if (!caps.checkpoint.ok && g.checkpoint) {
          const err = await t.throwsAsync(g.checkpoint(dir, { leaveRunning: true }));
          t.true(err!.message.includes(caps.checkpoint.reason!), `checkpoint refused with the probe's reason: ${err!.message}`);
        }
        if (!caps.migrate.ok && g.migrate) {
          const err = await t.throwsAsync(g.migrate({ timeoutS: 30 }));
          t.true(err!.message.includes(caps.migrate.reason!), `migrate refused with the probe's reason: ${err!.message}`);
        }
        if (!caps.clone.ok && driver.clone) {
          const err = await t.throwsAsync(driver.clone(g, spec(`vb-it-caps-${platform}-clone`), ctx));
          t.true(err!.message.includes(caps.clone.reason!), `clone refused with the probe's reason: ${err!.message}`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      t.is((await g.sh('echo alive')).stdout.trim(), 'alive', 'the guest still runs after the refusals');

      // a paused guest can still be destroyed
      await g.pause!();
      const d0 = performance.now();
      await g.destroy();
      destroyed = true;
      t.log(`${platform}: destroy of a paused guest ${(performance.now() - d0).toFixed(0)} ms`);
      const end = await Promise.race([loop.done.then(() => 'ended'), sleep(10_000).then(() => 'still running')]);
      t.is(end, 'ended', 'the counter process ended with its guest');
    } finally {
      if (!destroyed) await g.destroy();
      await rm(scratch, { recursive: true, force: true });
    }
  });
}

// the v2 freezer code on a v1 host: its hybrid v2 hierarchy has cgroup.freeze in every group
const unified = cgroupLayout().unified;
if (unified) {
  test.serial('v2 freezer (cgroup.freeze, cgroup.events) stops and restarts a counter', async (t) => {
    const rel = `vb-it-v2-freeze-${process.pid}`;
    const dir = join(unified, rel);
    const scratch = await mkdtemp(join(tmpdir(), 'vb-ct-caps-v2-'));
    const file = join(scratch, 'counter');
    const read = async () => Number((await readFile(file, 'utf8').catch(() => '0')).trim()) || 0;
    await mkdir(dir);
    const child = spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec sh -c \'i=0; while :; do i=$((i+1)); echo $i > "$0"; sleep 0.01; done\' "$2"', 'sh', dir, file], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && (await read()) < 3; i++) await sleep(20);
      const f = freezerOf({ version: 2, mounts: { cpu: unified } }, rel)!;
      await freeze(f, 5000);
      t.true(isFrozen(f));
      const a = await read();
      await sleep(300);
      t.is(await read(), a, 'frozen: the counter stays');
      await thaw(f, 5000);
      let b = a;
      for (let i = 0; i < 50 && b <= a; i++, await sleep(20)) b = await read();
      t.true(b > a, `thawed: the counter goes on (${a} -> ${b})`);
    } finally {
      await writeFile(join(dir, 'cgroup.freeze'), '0').catch(() => undefined);
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await Promise.race([gone, sleep(5000)]);
      }
      await sleep(50);
      await rmdir(dir).catch(() => undefined);
      await rm(scratch, { recursive: true, force: true });
    }
  });
}

test.serial('nothing is left after cleanup', async (t) => {
  await cleanupAll();
  t.deepEqual(await leftovers(), []);
});
