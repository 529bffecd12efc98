// What the Docker driver tells docker: the same limits as every other platform (settingsFor), as
// docker flags where docker writes exactly that file and value, the rest written directly.
import test from 'ava';
import type { GuestSpec } from '../../core/types.ts';
import { dockerRunArgs, dockerfile, otherHierarchies } from '../../drivers/docker.ts';

const MiB = 1024 * 1024;
const spec: GuestSpec = {
  name: 'vb1-target', vcpus: 2, cpus: [0, 1], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 512 * MiB,
  memoryLimit: 'hard', ioWeight: 500, pidsMax: 256, network: true, shares: [{ host: '/var/cache/virtbench/linux', guest: '/src', readonly: true }],
};

/** The value following a flag in an argument list. */
const flag = (args: string[], name: string) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};

test('v1 hard limits: docker flags for cpuset, shares, memory without swap, pids; bfq weight written directly', (t) => {
  const { args, direct } = dockerRunArgs({ spec, image: 'virtbench/guest:x', cgroupVersion: 1, ceilingBytes: 1024 * MiB });
  t.is(flag(args, '--cpuset-cpus'), '0,1');
  t.is(flag(args, '--cpu-shares'), '1024');
  t.is(flag(args, '--memory'), String(512 * MiB));
  t.is(flag(args, '--memory-swap'), String(512 * MiB));
  t.is(flag(args, '--memory-reservation'), undefined);
  t.is(flag(args, '--pids-limit'), '256');
  t.is(flag(args, '--network'), 'none');
  t.is(flag(args, '--cgroup-parent'), '/virtbench');
  t.is(flag(args, '--name'), 'virtbench-vb1-target');
  t.is(flag(args, '--mount'), 'type=bind,source=/var/cache/virtbench/linux,target=/src,readonly');
  t.is(args.at(-1), 'virtbench/guest:x');
  t.deepEqual(direct, [{ controller: 'blkio', file: 'blkio.bfq.weight', value: '500' }]);
});

test('soft limits and a CPU quota: reservation under the hard ceiling, period and quota', (t) => {
  const { args } = dockerRunArgs({ spec: { ...spec, memoryLimit: 'soft', cpuQuota: 0.5 }, image: 'i', cgroupVersion: 1, ceilingBytes: 1024 * MiB });
  t.is(flag(args, '--memory'), String(1024 * MiB));
  t.is(flag(args, '--memory-reservation'), String(512 * MiB));
  t.is(flag(args, '--cpu-period'), '100000');
  t.is(flag(args, '--cpu-quota'), '100000');
});

test('v2: cpu.weight and io weight written directly (docker converts shares otherwise), swap implied', (t) => {
  const { args, direct } = dockerRunArgs({ spec: { ...spec, cpuQuota: 1 }, image: 'i', cgroupVersion: 2, ceilingBytes: 1 });
  t.is(flag(args, '--cpu-shares'), undefined);
  t.is(flag(args, '--cpu-quota'), '200000');
  t.is(flag(args, '--cpu-period'), '100000');
  t.deepEqual(direct.map((d) => `${d.file}=${d.value}`).sort(), ['cpu.weight=100', 'io.bfq.weight=500']);
});

test('a share path docker cannot express is refused', (t) => {
  t.throws(() => dockerRunArgs({ spec: { ...spec, shares: [{ host: '/a,b', guest: '/a', readonly: true }] }, image: 'i', cgroupVersion: 1, ceilingBytes: 1 }), { message: /must not contain/ });
});

test('the Dockerfile: the rootfs tar as the base layer on scratch, then one RUN layer and tini as init', (t) => {
  const lines = dockerfile('bookworm-abc').trim().split('\n');
  t.is(lines[0], 'FROM scratch');
  t.is(lines[1], 'ADD rootfs.tar /');
  t.true(lines.some((l) => l.startsWith('RUN ')));
  t.is(lines.at(-1), 'CMD ["/usr/bin/tini", "-s", "--", "/bin/sleep", "infinity"]');
});

test('hierarchies runc uses beside the harness\'s controllers (devices, name=systemd), from this host\'s mountinfo', (t) => {
  // lines of /proc/self/mountinfo on the development host, unedited
  const mountinfo = [
    '33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
    '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices',
    '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  t.deepEqual(otherHierarchies(mountinfo), ['/sys/fs/cgroup/devices', '/sys/fs/cgroup/systemd']);
});
