// Memory overcommit for real, on bare metal and LXC: an arena of 256 MiB with a bounded swap of
// 104 MiB (the host has none: a swap file is made) holds two tenants of 256 MiB each (2x the
// budget), each touching 200 MiB. 400 MiB do not fit in 256 + 104: the arena swaps, then the
// kernel's OOM killer acts inside the arena, on a tenant. The kernel log's oom-kill line says
// where (oom_memcg = the arena, task_memcg = a tenant's group), the cgroup counters agree, the
// harness (this test process) and the host are alive, and arena and swap file are gone after.
// About 20 s per platform.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../../core/cleanup.ts';
import type { Guest, GuestSpec } from '../../core/types.ts';
import { arenaName, arenaSwapBytes, openArena } from '../../drivers/arena.ts';
import { HARNESS_GROUP, cgroupLayout, dirFor } from '../../drivers/cgroups.ts';
import { DRIVERS } from '../../drivers/index.ts';
import { activeSwapFiles } from '../../drivers/swap.ts';
import { leftovers } from './leftovers.ts';
import { smokeContext } from '../smoke-context.ts';

const MiB = 1024 ** 2;
const BUDGET = 256 * MiB;
const ctx = smokeContext;

const tenantSpec = (name: string, arena: string, tenant: number): GuestSpec => ({
  name, vcpus: 1, cpus: [0, 1], cpuPolicy: 'quota', cpuShares: 1024, memoryBytes: 256 * MiB, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 128, network: false, shares: [], arena, tenant,
});

// 25 x 8 MiB, every page written, then held so that both tenants are at their peak together
const ALLOC_200M = `perl -e 'my @a; for (1..25) { push @a, "x" x ${8 * MiB}; select(undef, undef, undef, 0.05); } sleep 4; exit 0'; exit $?`; // not the shell's last command: it reports a kill as 137

test.before(async () => {
  for (const d of [DRIVERS.baremetal!, DRIVERS.lxc!]) await d.sweep?.();
});

test.after.always(async () => {
  await cleanupAll();
});

const readAdj = () => Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());

for (const platform of ['baremetal', 'lxc']) {
  test.serial(`${platform}: 2x memory overcommit in a 256 MiB arena swaps, then OOM-kills a tenant inside the arena only`, async (t) => {
    const t0 = Date.now();
    const driver = DRIVERS[platform]!;
    const probe = await driver.probe();
    t.true(probe.ok, probe.reason);
    await driver.prepare?.(ctx);
    const adjBefore = readAdj();
    const lines: string[] = [];
    // swap for 288 MiB of tenants only (32 MiB beyond M plus a quarter of 288 for guest overheads:
    // 104 MiB), so the 400 MiB the two tenants touch must OOM-kill one
    const open = await openArena({ budgetBytes: BUDGET, demandBytes: BUDGET + 32 * MiB, log: (l) => lines.push(l), name: `${arenaName()}-${platform}` });
    const { arena, swap } = open;
    t.log(lines.join('\n'));
    const swapFile = swap.file;
    const guests: Guest[] = [];
    try {
      t.is(swap.availableBytes >= arenaSwapBytes(BUDGET + 32 * MiB, BUDGET), true, 'swap for the overcommit beyond M is there');
      if (swapFile) t.true(activeSwapFiles(readFileSync('/proc/swaps', 'utf8')).includes(swapFile), 'the swap file is on');
      for (let i = 0; i < 2; i++) guests.push(await driver.provision(tenantSpec(`vb-oc-${platform}-t${i}`, arena.name, i), ctx));
      const layout = cgroupLayout();
      for (const g of guests) {
        const mem = g.cgroupPaths?.()?.memory ?? '';
        t.true(mem.includes(`/${HARNESS_GROUP}/${arena.name}/`), `${g.name}'s memory group ${mem} is under the arena`);
      }
      t.is(readAdj(), arena.harnessProtected ? -1000 : adjBefore, 'the harness is -1000 where it may be, else unchanged');
      const results = await Promise.all(guests.map((g) => g.sh(ALLOC_200M, { check: false, timeoutMs: 90_000 })));
      const exits = results.map((r) => r.exitCode);
      const kills = await Promise.all(guests.map((g) => g.oomKills!()));
      const arenaKills = arena.oomKills();
      const memDir = dirFor(layout, 'memory', arena.rel)!;
      const peak = layout.version === 1 ? Number(readFileSync(join(memDir, 'memory.memsw.max_usage_in_bytes'), 'utf8')) : Number(readFileSync(join(memDir, 'memory.swap.peak'), 'utf8')) + BUDGET;
      t.log(`tenants' exits ${exits.join(', ')}; OOM kills per tenant ${kills.join(', ')}, in the arena ${arenaKills}; arena peak memory+swap ${(peak / MiB).toFixed(0)} MiB (limit ${BUDGET / MiB} MiB)`);
      t.true(peak > BUDGET + 16 * MiB, 'the arena swapped: memory+swap went well beyond its memory limit');
      t.true(arenaKills >= 1, 'the OOM killer acted in the arena');
      t.is(kills.reduce((a, b) => a + b, 0), arenaKills, "the tenants' counts add up to the arena's");
      t.true(exits.includes(137), 'a tenant process died of SIGKILL');
      t.true(exits.includes(0), 'the other tenant finished');
      // the kernel's own word on where it acted
      const dmesg = (await execa('dmesg')).stdout.split('\n').filter((l) => l.includes(`oom_memcg=/${HARNESS_GROUP}/${arena.name},`));
      t.log(dmesg.join('\n'));
      t.true(dmesg.length >= 1, 'the kernel logged an OOM kill constrained to the arena');
      for (const l of dmesg) {
        t.regex(l, /constraint=CONSTRAINT_MEMCG/);
        t.regex(l, new RegExp(`task_memcg=/${HARNESS_GROUP}/${arena.name}/vb-oc-${platform}-t[01][,/]`), 'the victim is in a tenant group');
        t.regex(l, /task=perl,/, 'the victim is the allocating tenant process, not the harness');
      }
      // the harness and the host are alive: this process answers, and so do the host's PID 1 and a fresh process
      process.kill(1, 0);
      t.is((await execa('true')).exitCode, 0);
    } finally {
      for (const g of guests.reverse()) await g.destroy();
      await open.close();
    }
    t.is(readAdj(), adjBefore, 'the harness has its own oom_score_adj back');
    t.false(arena.dirs().some((d) => existsSync(d)), 'arena removed');
    if (swapFile) {
      t.false(existsSync(swapFile), 'swap file removed');
      t.false(activeSwapFiles(readFileSync('/proc/swaps', 'utf8')).includes(swapFile), 'swap off');
    }
    t.log(`${platform}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
}

test.serial('nothing is left behind', async (t) => {
  await cleanupAll();
  t.deepEqual((await leftovers()).filter((l) => !l.includes('lxc dir') || l.includes('vb-oc-')), []);
});
