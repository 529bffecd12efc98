import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arenaName, arenaOwner, arenaSettings } from '../../drivers/arena.ts';
import { guestGroupRel, oomKillsOf, parseOomKill, quotaMicros, settingsFor } from '../../drivers/cgroups.ts';
import { dockerRunArgs } from '../../drivers/docker.ts';
import { DRIVERS } from '../../drivers/index.ts';
import { BALLOON_OPTIONS, qemuArgs } from '../../drivers/kvm.ts';
import { microvmArgs } from '../../drivers/lightvm.ts';
import { lxcConfig } from '../../drivers/lxc.ts';
import { nestedTenantSpec, tenantsVmSpec } from '../../drivers/lxcvm.ts';
import { PROTECTED_ADJ, TENANT_ADJ_RAISE, protectHarness, unprotected } from '../../drivers/oom-guard.ts';
import { MAX_SWAP_BYTES, activeSwapFiles, parseSwapFree, swapFileBytes } from '../../drivers/swap.ts';
import type { GuestSpec } from '../../core/types.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const spec: GuestSpec = {
  name: 'vb1-t0', vcpus: 1, cpus: [0, 1], cpuPolicy: 'quota', cpuShares: 1024, memoryBytes: 512 * MiB,
  memoryLimit: 'hard', ioWeight: 500, pidsMax: 1024, network: false, shares: [], arena: 'arena-42', tenant: 0,
};

test('quota: policy quota caps at vcpus CPUs; cpuQuota is a fraction of them; none otherwise', (t) => {
  t.is(quotaMicros({ cpuPolicy: 'quota', vcpus: 1 }), 100_000);
  t.is(quotaMicros({ cpuPolicy: 'quota', vcpus: 2 }), 200_000);
  t.is(quotaMicros({ cpuPolicy: 'shares', vcpus: 2, cpuQuota: 0.5 }), 100_000);
  t.is(quotaMicros({ cpuPolicy: 'shares', vcpus: 2 }), undefined);
  t.is(quotaMicros({ cpuPolicy: 'cpuset', vcpus: 1, cpuQuota: 0.001 }), 1000, 'the kernel minimum of 1 ms');
  t.throws(() => quotaMicros({ cpuPolicy: 'quota', vcpus: 0 }));
  const v1 = Object.fromEntries(settingsFor(spec, 1, 0).map((s) => [s.file, s.value]));
  t.is(v1['cpu.cfs_quota_us'], '100000');
  t.is(v1['cpu.cfs_period_us'], '100000');
  t.is(v1['cpuset.cpus'], '0,1', 'a quota tenant runs on every CPU it is given');
  const v2 = Object.fromEntries(settingsFor({ ...spec, vcpus: 2 }, 2, 0).map((s) => [s.file, s.value]));
  t.is(v2['cpu.max'], '200000 100000');
});

test('an arena tenant may swap within the arena on v2; elsewhere no swap', (t) => {
  const files = (s: GuestSpec) => settingsFor(s, 2, 0).map((x) => `${x.file}=${x.value}`);
  t.false(files(spec).some((f) => f.startsWith('memory.swap.max')));
  t.true(files({ ...spec, arena: undefined }).includes('memory.swap.max=0'));
});

test('arena paths and limits: under the harness group, memory M and M plus the swap it may use', (t) => {
  t.is(arenaName(7), 'arena-7');
  t.is(guestGroupRel('vb1-t0', 'arena-42'), 'virtbench/arena-42/vb1-t0');
  t.is(guestGroupRel('vb1-t0'), 'virtbench/vb1-t0');
  t.deepEqual(arenaSettings(1, 256 * MiB, 512 * MiB).map((s) => `${s.file}=${s.value}`), [
    `memory.limit_in_bytes=${256 * MiB}`,
    `memory.memsw.limit_in_bytes=${768 * MiB}`,
  ]);
  t.deepEqual(arenaSettings(2, 256 * MiB, 0).map((s) => `${s.file}=${s.value}`), [`memory.max=${256 * MiB}`, 'memory.swap.max=0']);
});

test('OOM-kill line: v1 memory.oom_control (captured on this host) and v2 memory.events (hand-made, kernel format)', (t) => {
  t.is(parseOomKill('oom_kill_disable 0\nunder_oom 0\noom_kill 0\n'), 0);
  t.is(parseOomKill('low 0\nhigh 0\nmax 17\noom 3\noom_kill 2\noom_group_kill 0\n'), 2);
  t.is(parseOomKill('oom_kill_disable 0\nunder_oom 0\n'), undefined, 'kernels before 4.13 do not count');
});

test('OOM kills of a group: v1 sums its subtree (the kernel counts locally there), v2 reads its own hierarchical count', (t) => {
  // hand-made trees in the kernel's file formats
  const root = mkdtempSync(join(tmpdir(), 'vb-oom-'));
  try {
    const v1 = (rel: string, n: number) => {
      mkdirSync(join(root, 'v1', rel), { recursive: true });
      writeFileSync(join(root, 'v1', rel, 'memory.oom_control'), `oom_kill_disable 0\nunder_oom 0\noom_kill ${n}\n`);
    };
    v1('virtbench/arena-1', 1);
    v1('virtbench/arena-1/t0', 2);
    v1('virtbench/arena-1/t1', 0);
    v1('virtbench/arena-1/t1/inner', 3);
    const l1 = { version: 1 as const, mounts: { memory: join(root, 'v1') } };
    t.is(oomKillsOf(l1, 'virtbench/arena-1'), 6);
    t.is(oomKillsOf(l1, 'virtbench/arena-1/t1'), 3);
    t.is(oomKillsOf(l1, 'virtbench/none'), undefined);
    mkdirSync(join(root, 'v2', 'virtbench/arena-1/t0'), { recursive: true });
    writeFileSync(join(root, 'v2', 'virtbench/arena-1/memory.events'), 'low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n');
    writeFileSync(join(root, 'v2', 'virtbench/arena-1/t0/memory.events'), 'low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n');
    t.is(oomKillsOf({ version: 2, mounts: { memory: join(root, 'v2') } }, 'virtbench/arena-1'), 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('swap sizing: the overcommit beyond free swap, capped at 8 GiB and a quarter of the free disk', (t) => {
  t.is(swapFileBytes({ neededBytes: 0, swapFreeBytes: 0, diskFreeBytes: 100 * GiB }), 0);
  t.is(swapFileBytes({ neededBytes: GiB, swapFreeBytes: 2 * GiB, diskFreeBytes: 100 * GiB }), 0, 'enough swap already');
  t.is(swapFileBytes({ neededBytes: 3 * GiB, swapFreeBytes: GiB, diskFreeBytes: 100 * GiB }), 2 * GiB);
  t.is(swapFileBytes({ neededBytes: 40 * GiB, swapFreeBytes: 0, diskFreeBytes: 100 * GiB }), MAX_SWAP_BYTES);
  t.is(swapFileBytes({ neededBytes: 40 * GiB, swapFreeBytes: 0, diskFreeBytes: 8 * GiB }), 2 * GiB);
  t.is(swapFileBytes({ neededBytes: 100 * MiB + 1, swapFreeBytes: 0, diskFreeBytes: 100 * GiB }), 101 * MiB, 'rounded up to whole MiB');
  t.is(swapFileBytes({ neededBytes: 8 * MiB, swapFreeBytes: 0, diskFreeBytes: 100 * GiB }), 0, 'too small to matter');
  t.is(swapFileBytes({ neededBytes: GiB, swapFreeBytes: 0, diskFreeBytes: 32 * MiB }), 0, 'no disk to spare');
});

test('swap facts: SwapFree (captured on this host) and /proc/swaps (this host\'s header plus a hand-made file line)', (t) => {
  t.is(parseSwapFree('SwapCached:            0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n'), 0);
  t.is(parseSwapFree('SwapTotal:       1048572 kB\nSwapFree:         524288 kB\n'), 512 * MiB);
  const header = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';
  t.deepEqual(activeSwapFiles(header), []);
  t.deepEqual(activeSwapFiles(header + '/var/lib/virtbench/swap/vb-9.swap       file\t\t262140\t\t0\t\t-2\n'), ['/var/lib/virtbench/swap/vb-9.swap']);
});

test('placement: LXC under the arena with its monitor outside, Docker with the arena as parent and swap within it', (t) => {
  const conf = lxcConfig({ spec, rootfs: '/r', upper: '/u', cgroupVersion: 1, ceilingBytes: GiB });
  t.regex(conf, /^lxc\.cgroup\.dir\.container = virtbench\/arena-42\/vb1-t0$/m);
  t.regex(conf, /^lxc\.cgroup\.dir\.monitor = virtbench\/lxcmon-vb1-t0$/m);
  t.notRegex(lxcConfig({ spec: { ...spec, arena: undefined }, rootfs: '/r', upper: '/u', cgroupVersion: 1, ceilingBytes: GiB }), /lxc\.cgroup\.dir/);
  const { args } = dockerRunArgs({ spec, image: 'i', cgroupVersion: 1, ceilingBytes: GiB });
  t.is(args[args.indexOf('--cgroup-parent') + 1], '/virtbench/arena-42');
  t.is(args[args.indexOf('--memory-swap') + 1], '-1');
  t.is(args[args.indexOf('--cpu-quota') + 1], '100000');
  const plain = dockerRunArgs({ spec: { ...spec, arena: undefined }, image: 'i', cgroupVersion: 1, ceilingBytes: GiB }).args;
  t.is(plain[plain.indexOf('--memory-swap') + 1], String(512 * MiB));
});

test('VMs: a balloon that deflates on OOM and reports free pages, on both machines', (t) => {
  const o = { accel: 'tcg' as const, vcpus: 1, memoryBytes: 256 * MiB, kernel: 'k', initramfs: 'i', append: '', console: 'c' };
  t.true(qemuArgs(o).includes(`virtio-balloon-pci,${BALLOON_OPTIONS}`));
  t.true(microvmArgs({ ...o, rootDir: '/r' }).includes(`virtio-balloon-device,${BALLOON_OPTIONS}`));
  t.regex(BALLOON_OPTIONS, /deflate-on-oom=on/);
  t.regex(BALLOON_OPTIONS, /free-page-reporting=on/);
});

test('lxcvm tenants: one VM of the summed size in their arena, soft-limited containers on all its vCPUs', (t) => {
  const specs = [0, 1, 2].map((i) => ({ ...spec, name: `vb1-t${i}`, tenant: i, memoryBytes: 700 * MiB, cpuPolicy: 'shares' as const }));
  const vm = tenantsVmSpec(specs, 2, 'vb1-vm0');
  t.is(vm.vcpus, 3, 'N x V vCPUs, multiplexed on 2 host CPUs');
  t.deepEqual(vm.cpus, [0, 1]);
  t.is(vm.memoryBytes, 2112 * MiB, 'N x G rounded up to 64 MiB');
  t.is(vm.arena, 'arena-42');
  t.is(vm.memoryLimit, 'hard');
  const inner = nestedTenantSpec(specs[1]!, vm.vcpus);
  t.is(inner.memoryLimit, 'soft');
  t.deepEqual(inner.cpus, [0, 1, 2]);
  t.throws(() => tenantsVmSpec([], 2, 'x'));
});

test('CPU policies: every platform caps by quota; lxcvm, whose vCPUs float over the host CPUs, claims no cpuset', (t) => {
  for (const d of Object.values(DRIVERS)) t.true(d.cpuPolicies?.includes('quota'), d.name);
  t.false(DRIVERS.lxcvm!.cpuPolicies!.includes('cpuset'));
  t.true(DRIVERS.baremetal!.cpuPolicies!.includes('cpuset'));
});

// CAP_SYS_RESOURCE (bit 24) decides whether the harness may lower its own value; raising needs nothing
const capEff = BigInt('0x' + (readFileSync('/proc/self/status', 'utf8').match(/^CapEff:\s*([0-9a-f]+)$/m)?.[1] ?? '0'));
const canLower = (capEff & (1n << 24n)) !== 0n;
test.serial('oom guard: the harness is exempt where it may be, its guest launches go first, and it is restored', (t) => {
  const read = () => Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  const before = read();
  const guard = protectHarness();
  try {
    t.is(guard.protected, canLower);
    t.is(read(), canLower ? PROTECTED_ADJ : before);
    const child = (file: string, args: string[]) => Number(execFileSync(file, args, { encoding: 'utf8' }).trim());
    t.is(child('cat', ['/proc/self/oom_score_adj']), read(), 'a plain child inherits the harness value');
    const u = unprotected('cat', ['/proc/self/oom_score_adj']);
    t.is(child(u.file, u.args), Math.min(1000, before + TENANT_ADJ_RAISE), 'a guest launch goes first');
  } finally {
    guard.undo();
  }
  t.is(read(), before);
  t.deepEqual(unprotected('cat', ['x']), { file: 'cat', args: ['x'] }, 'no wrapper once no arena exists');
});

test('an arena group names the harness process that owns it, also the per-run arena of a multi-tenant run', (t) => {
  t.is(arenaOwner(arenaName(4242)), 4242);
  t.is(arenaOwner(`${arenaName(4242)}-vb7-4242`), 4242);
  t.is(arenaOwner(`${arenaName(31)}k`), undefined, 'a pid must end at the name or at a dash');
  t.is(arenaOwner('arena-vb7-4242'), undefined, 'the old per-run name carried no whole pid');
  t.is(arenaOwner('lxc.payload.x'), undefined);
});
