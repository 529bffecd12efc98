import test from 'ava';
import { parseMountinfo, settingsFor, sharesToWeight } from '../../drivers/cgroups.ts';
import { lxcConfig } from '../../drivers/lxc.ts';
import { pickSubnet } from '../../drivers/bridge.ts';
import type { GuestSpec } from '../../core/types.ts';

const spec: GuestSpec = {
  name: 'vb1-target', vcpus: 2, cpus: [2, 3], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 2 * 1024 ** 3,
  memoryLimit: 'hard', ioWeight: 500, pidsMax: 1024, network: true, shares: [{ host: '/var/cache/virtbench/linux', guest: '/var/cache/virtbench/linux', readonly: true }],
};

// Captured from this project's CI host (hybrid: v1 controllers plus an empty unified mount) and a v2-only host.
const HYBRID = `25 1 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:25 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
29 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
31 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
const V2 = `35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`;

test('mountinfo: v1 controllers win on a hybrid host, v2 otherwise', (t) => {
  const h = parseMountinfo(HYBRID);
  t.is(h.version, 1);
  t.is(h.mounts.memory, '/sys/fs/cgroup/memory');
  t.is(h.mounts.freezer, undefined);
  const v = parseMountinfo(V2);
  t.is(v.version, 2);
  t.is(v.mounts.cpu, '/sys/fs/cgroup');
  t.is(v.mounts.io, '/sys/fs/cgroup');
});

test('v1 settings: pinning, shares, hard memory, bfq weight, pids', (t) => {
  const s = Object.fromEntries(settingsFor(spec, 1, 99).map((x) => [x.file, x.value]));
  t.deepEqual(s, {
    'cpuset.cpus': '2,3',
    'cpu.shares': '1024',
    'memory.limit_in_bytes': String(2 * 1024 ** 3),
    'blkio.bfq.weight': '500',
    'pids.max': '1024',
  });
});

test('soft memory limit keeps a hard safety ceiling', (t) => {
  const soft = { ...spec, memoryLimit: 'soft' as const, cpuQuota: 0.5 };
  const v1 = Object.fromEntries(settingsFor(soft, 1, 5e9).map((x) => [x.file, x.value]));
  t.is(v1['memory.soft_limit_in_bytes'], String(2 * 1024 ** 3));
  t.is(v1['memory.limit_in_bytes'], '5000000000');
  t.is(v1['cpu.cfs_quota_us'], '100000', 'half of 2 vCPUs = 1 CPU per 100 ms period');
  const v2 = Object.fromEntries(settingsFor(soft, 2, 5e9).map((x) => [x.file, x.value]));
  t.is(v2['memory.low'], String(2 * 1024 ** 3));
  t.is(v2['memory.max'], '5000000000');
  t.is(v2['cpu.max'], '100000 100000');
  t.is(v2['cpu.weight'], '100');
});

test('cpu.shares to cpu.weight keeps the defaults equal', (t) => {
  t.is(sharesToWeight(1024), 100);
  t.is(sharesToWeight(2), 1);
  t.is(sharesToWeight(512), 50);
  t.is(sharesToWeight(262144), 10000);
});

test('lxc config carries the same limits, the share and the harness network', (t) => {
  const cfg = lxcConfig({ spec, rootfs: '/cache/rootfs', upper: '/state/upper', cgroupVersion: 1, ceilingBytes: 1, net: { bridge: 'vbbr0', address: '10.213.77.10', gateway: '10.213.77.1' } });
  t.regex(cfg, /^lxc\.rootfs\.path = overlay:\/cache\/rootfs:\/state\/upper$/m);
  t.regex(cfg, /^lxc\.cgroup\.cpuset\.cpus = 2,3$/m);
  t.regex(cfg, /^lxc\.cgroup\.pids\.max = 1024$/m);
  t.regex(cfg, /^lxc\.mount\.entry = \/var\/cache\/virtbench\/linux var\/cache\/virtbench\/linux none bind,ro,create=dir 0 0$/m);
  t.regex(cfg, /^lxc\.net\.0\.link = vbbr0$/m);
  t.regex(cfg, /^lxc\.net\.0\.ipv4\.address = 10\.213\.77\.10\/24 10\.213\.77\.255$/m);
  const v2 = lxcConfig({ spec, rootfs: '/r', upper: '/u', cgroupVersion: 2, ceilingBytes: 1, availableFiles: (_c, f) => f !== 'io.bfq.weight' });
  t.regex(v2, /^lxc\.cgroup2\.memory\.max = /m);
  t.notRegex(v2, /io\.bfq\.weight/);
  t.regex(v2, /^lxc\.net\.0\.type = empty$/m);
});

test('the harness subnet avoids every host route', (t) => {
  t.is(pickSubnet('default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0'), '10.213.77');
  t.is(pickSubnet('10.213.77.0/24 dev x\n10.214.0.0/16 dev y'), '172.29.213');
  t.is(pickSubnet('10.0.0.0/8 dev x'), '172.29.213');
  t.throws(() => pickSubnet('10.0.0.0/8 dev a\n172.29.213.0/24 dev b\n192.168.0.0/16 dev c'));
});
