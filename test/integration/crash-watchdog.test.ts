// The outermost bound of an adversary: its watchdog, a detached process that freezes and kills the
// adversary's guest at the deadline with nobody left to ask it (the harness was killed). Here a
// fork bomb without its own deadline runs in a real guest of each container-style platform, and
// the watchdog, given 3 s, must leave no process of it. About 30 s.
import test from 'ava';
import { ensurePackages } from '../../core/host.ts';
import { cleanupAll } from '../../core/cleanup.ts';
import { PROFILES } from '../../core/profiles.ts';
import type { GuestSpec, RunContext } from '../../core/types.ts';
import { startWatchdog, sweepWatchdogs } from '../../core/watchdog.ts';
import { DRIVERS } from '../../drivers/index.ts';
import { allGuestPackages } from '../../workloads/index.ts';
import { BOMB } from '../../workloads/fork-bomb.ts';
import { leftovers } from './leftovers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ctx: RunContext = {
  profile: PROFILES.smoke, cacheDir: '/var/cache/virtbench', guestPackages: allGuestPackages(),
  log: (l) => console.log(l), signal: new AbortController().signal, timeoutS: 60, tiers: {},
};
const spec = (name: string): GuestSpec => ({
  name, vcpus: 1, cpus: [1], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 256 * 1024 ** 2, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 256, network: false, shares: [],
});

test.before(async () => {
  // what a suite run installs for these platforms (a fresh host has none of it)
  await ensurePackages(['baremetal', 'lxc'].flatMap((p) => DRIVERS[p]!.hostPackages), ctx.log);
  sweepWatchdogs();
  for (const d of Object.values(DRIVERS)) await d.sweep?.();
});
test.after.always(async () => {
  await cleanupAll();
});

for (const platform of ['baremetal', 'lxc']) {
  test(`${platform}: the watchdog freezes and kills a fork bomb at its deadline on its own`, async (t) => {
    const driver = DRIVERS[platform]!;
    await driver.prepare?.(ctx);
    const g = await driver.provision(spec(`vb-wd-${platform}`), ctx);
    try {
      t.truthy(g.watchdogScript?.(), 'the driver gives its guests a kill script');
      const bomb = g.spawn(BOMB); // the bare bomb: no deadline of its own
      for (const until = Date.now() + 20_000; Date.now() < until && ((await g.usage()).pids ?? 0) < 200; ) await sleep(100);
      const before = (await g.usage()).pids ?? 0;
      t.true(before >= 200, `the bomb grew (${before} pids)`);
      const dog = startWatchdog(g, 3);
      t.truthy(dog.pid);
      const t0 = Date.now();
      await sleep(1500);
      const early = (await g.usage()).pids ?? 0;
      t.true(early >= 100, `still running before the deadline (${early} pids)`);
      // nothing here stops the bomb: only the watchdog, which does not depend on this process
      let pids = early;
      for (const until = Date.now() + 30_000; Date.now() < until && pids > 0; await sleep(200)) pids = (await g.usage().catch(() => ({ pids: 0 }))).pids ?? 0;
      t.log(`${platform}: ${before} bomb processes; ${pids} left ${((Date.now() - t0) / 1000).toFixed(1)} s after the watchdog was started with a 3 s deadline`);
      t.is(pids, 0, 'every process of the guest killed');
      bomb.kill('SIGKILL');
    } finally {
      await g.destroy();
    }
    t.deepEqual(await leftovers(), []);
  });
}
