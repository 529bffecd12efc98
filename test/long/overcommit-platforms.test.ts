// The arena on the other platforms (test/integration/overcommit-arena.test.ts covers bare metal
// and LXC in CI): Docker tenants OOM-killed inside the arena, a VM's QEMU in the arena with its
// CFS quota and balloon and the guest kernel's own OOM kill counted, and lxcvm's tenants (one VM
// of their summed size, soft-limited containers). About 70 s under TCG; `npm run test:long`.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { cleanupAll } from '../../core/cleanup.ts';
import type { Guest, GuestSpec } from '../../core/types.ts';
import { openArena } from '../../drivers/arena.ts';
import { HARNESS_GROUP } from '../../drivers/cgroups.ts';
import { DRIVERS } from '../../drivers/index.ts';
import type { KvmGuest } from '../../drivers/kvm.ts';
import { leftovers, vmLeftovers } from '../integration/leftovers.ts';
import { smokeContext } from '../smoke-context.ts';

const MiB = 1024 ** 2;
const ctx = smokeContext;
const spec = (name: string, arena: string, memoryBytes: number, tenant = 0): GuestSpec => ({
  name, vcpus: 1, cpus: [0, 1], cpuPolicy: 'quota', cpuShares: 1024, memoryBytes, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 128, network: false, shares: [], arena, tenant,
});
const alloc = (mib: number, holdS = 0) => `perl -e 'my @a; for (1..${mib / 8}) { push @a, "x" x ${8 * MiB}; select(undef, undef, undef, 0.05); } sleep ${holdS}; exit 0'; exit $?`;

test.after.always(async () => {
  await cleanupAll();
});

test.serial('docker: tenants under the arena (--cgroup-parent), one OOM-killed inside it', async (t) => {
  const d = DRIVERS.docker!;
  const probe = await d.probe();
  if (!probe.ok) return t.pass(`docker unavailable: ${probe.reason}`);
  await d.prepare!(ctx);
  const open = await openArena({ budgetBytes: 256 * MiB, demandBytes: 384 * MiB, log: ctx.log });
  const gs: Guest[] = [];
  try {
    for (const i of [0, 1]) gs.push(await d.provision(spec(`vb-ocl-d${i}`, open.arena.name, 256 * MiB, i), ctx));
    for (const g of gs) t.true((g.cgroupPaths?.()?.memory ?? (g as unknown as { cgroup: string }).cgroup).includes(`${HARNESS_GROUP}/${open.arena.name}/`));
    const exits = (await Promise.all(gs.map((g) => g.sh(alloc(200, 4), { check: false, timeoutMs: 90_000 })))).map((r) => r.exitCode);
    const kills = await Promise.all(gs.map((g) => g.oomKills!()));
    t.log(`exits ${exits.join(', ')}; OOM kills ${kills.join(', ')}; arena ${open.arena.oomKills()}`);
    t.deepEqual([...exits].sort(), [0, 137]);
    t.is(open.arena.oomKills(), 1);
  } finally {
    for (const g of gs) await g.destroy();
    await open.close();
  }
});

test.serial("kvm: QEMU in the arena with its quota and balloon; the guest kernel's OOM kill is counted", async (t) => {
  const d = DRIVERS.kvm!;
  const probe = await d.probe('smoke');
  if (!probe.ok) return t.pass(`kvm unavailable: ${probe.reason}`);
  await d.prepare!(ctx);
  const open = await openArena({ budgetBytes: 1024 * MiB, demandBytes: 1024 * MiB, log: ctx.log });
  let g: KvmGuest | undefined;
  try {
    g = (await d.provision(spec('vb-ocl-kvm', open.arena.name, 384 * MiB), ctx)) as KvmGuest;
    const cg = readFileSync(`/proc/${g.qemuPid}/cgroup`, 'utf8');
    t.regex(cg, new RegExp(`memory:/${HARNESS_GROUP}/${open.arena.name}/vb-ocl-kvm$`, 'm'));
    t.regex((await g.sh('ls /sys/bus/virtio/drivers/virtio_balloon/')).stdout, /virtio\d/, 'the balloon driver bound a device');
    t.is(await g.oomKills(), 0);
    // more than the guest's RAM: its own kernel's OOM killer acts, not the host's
    const r = await g.sh(alloc(600), { check: false, timeoutMs: 180_000 });
    t.is(r.exitCode, 137);
    t.is(await g.guestOomKills(), 1);
    t.is(g.hostOomKills(), 0);
    t.is(await g.oomKills(), 1);
  } finally {
    await g?.destroy();
    await open.close();
  }
});

test.serial('lxcvm: one VM of the tenants\' summed size in the arena, a soft-limited container each', async (t) => {
  const d = DRIVERS.lxcvm!;
  const probe = await d.probe('smoke');
  if (!probe.ok) return t.pass(`lxcvm unavailable: ${probe.reason}`);
  await d.prepare!(ctx);
  const open = await openArena({ budgetBytes: 1024 * MiB, demandBytes: 1536 * MiB, log: ctx.log });
  const specs = [0, 1, 2].map((i) => ({ ...spec(`vb-ocl-n${i}`, open.arena.name, 512 * MiB, i), cpuPolicy: 'shares' as const, network: true }));
  let gs: Guest[] = [];
  try {
    gs = await d.provisionTenants!(specs, ctx);
    const vm = (gs[0] as unknown as { vm: KvmGuest }).vm;
    t.is(vm.spec.vcpus, 3);
    t.is(vm.spec.memoryBytes, 1536 * MiB);
    t.regex(readFileSync(`/proc/${vm.qemuPid}/cgroup`, 'utf8'), new RegExp(`memory:/${HARNESS_GROUP}/${open.arena.name}/`));
    for (const g of gs) {
      const out = (await g.sh('hostname; nproc; cat /sys/fs/cgroup/memory.low')).stdout.trim().split('\n');
      t.deepEqual(out, [g.name, '3', String(512 * MiB)], `${g.name}: its own container, every vCPU, a soft limit`);
      t.is(await g.oomKills!(), 0);
    }
  } finally {
    for (const g of gs) await g.destroy();
    await open.close();
  }
});

test.serial('nothing is left behind', async (t) => {
  await cleanupAll();
  t.deepEqual([...(await vmLeftovers()), ...(await leftovers())].filter((l) => !l.includes('lxc dir')), []);
});
