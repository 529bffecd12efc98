// Real guests on each container-style driver: limits are applied, commands run, a fork bomb stays
// bounded while the host keeps answering, and nothing is left behind.
import test from 'ava';
import { ensurePackages } from '../../core/host.ts';
import { execa } from 'execa';
import { cleanupAll } from '../../core/cleanup.ts';
import type { GuestSpec } from '../../core/types.ts';
import { DRIVERS } from '../../drivers/index.ts';
import { BRIDGE } from '../../drivers/bridge.ts';
import forkBomb from '../../workloads/fork-bomb.ts';
import { leftovers } from './leftovers.ts';
import { smokeContext } from '../smoke-context.ts';

const ctx = smokeContext;

const spec = (name: string): GuestSpec => ({
  name, vcpus: 1, cpus: [1], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 256 * 1024 ** 2, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 128, network: true, shares: [{ host: '/usr/share/doc/bash', guest: '/usr/share/doc/bash', readonly: true }],
});

test.before(async () => {
  // what a suite run installs for these platforms (a fresh host has none of it)
  await ensurePackages(['baremetal', 'lxc'].flatMap((p) => DRIVERS[p]!.hostPackages), ctx.log);
  // a killed earlier run may have left guests; the harness sweeps them at the start of a suite, so do we
  for (const d of Object.values(DRIVERS)) await d.sweep?.();
});

test.after.always(async () => {
  await cleanupAll();
});

for (const platform of ['baremetal', 'lxc']) {
  test(`${platform}: limits, commands, files, timeouts and a bounded fork bomb`, async (t) => {
    const driver = DRIVERS[platform]!;
    const probe = await driver.probe();
    t.true(probe.ok, probe.reason);
    await driver.prepare?.(ctx);
    const g = await driver.provision(spec(`vb-it-${platform}`), ctx);
    try {
      if (platform === 'lxc') {
        t.log(`lxc launch (lxc-start to the first command answered): ${g.bootSeconds?.toFixed(3)} s`);
        t.true(g.bootSeconds !== undefined && g.bootSeconds > 0 && g.bootSeconds < 30, 'launch time measured');
      } else t.is(g.bootSeconds, undefined, 'bare metal launches nothing');
      t.is((await g.sh('nproc')).stdout.trim(), '1', 'pinned to one CPU');
      t.is((await g.sh('taskset -pc $$ | sed "s/.*: //"')).stdout.trim(), '1', 'on host CPU 1');
      t.truthy((await g.sh('ls /usr/share/doc/bash')).stdout.trim(), 'share visible');
      t.not((await g.sh('touch /usr/share/doc/bash/x', { check: false })).exitCode, 0, 'share is read-only');
      t.is((await g.sh('echo $FOO; pwd', { env: { FOO: "a'b" }, cwd: '/tmp' })).stdout, "a'b\n/tmp\n");
      // the same environment on both platforms (issue 15): bare metal no longer inherits the harness's
      const vars = (await g.sh('env -0 | tr "\\0" "\\n" | sed -n "s/=.*//p"')).stdout.trim().split('\n').filter((v) => !['PWD', 'SHLVL', '_', 'OLDPWD', 'container'].includes(v));
      t.deepEqual(vars.sort(), ['HOME', 'LANG', 'PATH'], `environment: ${vars.join(' ')}`);
      await g.sh(`mkdir -p ${g.workdir} && echo hello > ${g.workdir}/f`);
      await g.pullFile(`${g.workdir}/f`, `/tmp/vb-it-${platform}-f`);
      t.is((await execa('cat', [`/tmp/vb-it-${platform}-f`])).stdout, 'hello');

      // memory: a 400 MB allocation fails under the 256 MB hard limit
      // tail keeps a newline-free input whole in memory
      const oom = await g.sh('head -c 400M /dev/zero | tail > /dev/null', { check: false });
      t.not(oom.exitCode, 0, 'hard memory limit enforced');

      const slow = await g.sh('sleep 30', { timeoutMs: 1000, check: false });
      t.true(slow.timedOut);
      t.true(slow.durationMs < 10_000);
      // the timed-out command's cleanup is over when sh() returns: it kills nothing started next
      t.is((await g.sh('sleep 1; echo survived', { check: false })).stdout, 'survived\n', 'the next command is not killed by the last one\'s timeout');

      // fork bomb beside a host probe: the host must answer every probe within 1 s
      const running = await forkBomb.start(g, ctx);
      const latencies: number[] = [];
      const until = Date.now() + 10_000;
      let peakPids = 0;
      while (Date.now() < until) {
        const t0 = performance.now();
        await execa('true');
        latencies.push(performance.now() - t0);
        peakPids = Math.max(peakPids, (await g.usage()).pids ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
      const report = await running.stop();
      t.log(`${platform}: fork bomb peak ${peakPids} pids (limit 128), host probe max ${Math.max(...latencies).toFixed(0)} ms over ${latencies.length} probes`, report.detail);
      t.true(peakPids > 20, 'the bomb really forked');
      t.true(peakPids <= 128, 'bounded by pids.max');
      t.true(Math.max(...latencies) < 1000, 'host answered within 1 s throughout');
      const after = (await g.usage()).pids ?? 0;
      t.true(after <= 2, `no bomb process survives (pids now ${after})`);
      t.is((await g.sh('echo alive')).stdout.trim(), 'alive', 'guest usable after killAll');
    } finally {
      await g.destroy();
    }
    t.deepEqual(await leftovers(), platform === 'lxc' ? [`bridge ${BRIDGE}`] : [], 'only the shared bridge remains until cleanup');
  });
}

test('cleanup removes the bridge and every cgroup', async (t) => {
  await cleanupAll();
  t.deepEqual(await leftovers(), []);
});
