// Pure pieces of the VM platforms: module load order from the guest kernel's real modules.dep
// (an excerpt of the one depmod made for Debian's 6.1 generic kernel), the agent's framing,
// exit statuses, the initramfs archive format and QEMU's command line.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { FrameDecoder, encodeFrame, parseExit } from '../../drivers/vm-agent.ts';
import { cpioNewc, moduleLoadOrder, moduleName, parseModulesDep } from '../../drivers/vm-image.ts';
import { qemuArgs } from '../../drivers/kvm.ts';
import { hostTscKhz, microvmArgs } from '../../drivers/lightvm.ts';
import { tenantSpec, vmSpecFor } from '../../drivers/lxcvm.ts';
import { expandCells } from '../../core/matrix.ts';
import { UsageError } from '../../core/errors.ts';
import { parseSuiteArgs } from '../../core/options.ts';
import isolation from '../../suites/isolation.ts';
import { summarize } from '../../analysis/summary.ts';

const dep = parseModulesDep(readFileSync(new URL('../fixtures/vm/modules.dep.excerpt', import.meta.url), 'utf8'));

test('module load order: every module after its dependencies, as measured to boot', (t) => {
  const { order, missing } = moduleLoadOrder(dep, new Set(), ['virtio_pci', 'virtio_blk', 'virtio_net', '9pnet_virtio', '9p', 'ext4', 'nosuch']);
  const names = order.map((m) => m.name);
  t.deepEqual(missing, ['nosuch']);
  const before = (a: string, b: string) => t.true(names.indexOf(a) >= 0 && names.indexOf(a) < names.indexOf(b), `${a} before ${b}`);
  before('virtio_ring', 'virtio_pci');
  before('virtio_pci_modern_dev', 'virtio_pci');
  before('failover', 'net_failover');
  before('net_failover', 'virtio_net');
  before('netfs', 'fscache');
  before('9pnet', '9pnet_virtio');
  before('fscache', '9p');
  before('jbd2', 'ext4');
  t.is(new Set(names).size, names.length, 'each module once');
  t.is(moduleLoadOrder(dep, new Set(['virtio_ring', 'virtio']), ['virtio_blk']).order.map((m) => m.name).join(), 'virtio_blk', 'built-ins skipped');
  t.is(moduleName('kernel/net/9p/9pnet-virtio.ko.xz'), '9pnet_virtio');
});

test('agent frames survive any split of the byte stream', (t) => {
  const bytes = Buffer.concat([encodeFrame('O', 7, 'hello'), encodeFrame('Z', 7, 'exit 3'), encodeFrame('H', 0, '')]);
  for (const cut of [1, 5, 9, 13, 20, bytes.length - 1]) {
    const d = new FrameDecoder();
    const frames = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
    t.deepEqual(frames.map((f) => [f.type, f.id, f.payload.toString()]), [['O', 7, 'hello'], ['Z', 7, 'exit 3'], ['H', 0, '']]);
  }
  t.deepEqual(parseExit('exit 3'), { exitCode: 3 });
  t.deepEqual(parseExit('signal 9'), { exitCode: 137, signal: 9 });
  t.is(parseExit('garbage').exitCode, -1);
});

test('cpio newc: headers, 4-byte alignment, trailer', (t) => {
  const a = cpioNewc([{ kind: 'dir', name: 'bin' }, { kind: 'file', name: '/init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]);
  const text = a.toString('latin1');
  t.true(text.startsWith('070701'));
  t.is(a.length % 4, 0);
  t.true(text.includes('init\0'), 'leading slash dropped');
  t.true(text.includes('TRAILER!!!\0'));
  // the file's header: mode field (8 hex digits after magic and inode) says a 0755 regular file
  const at = text.indexOf('070701', text.indexOf('bin\0'));
  t.is(parseInt(text.slice(at + 14, at + 22), 16), 0o100755);
});

test('qemu command line: accelerator, size, disk, agent port, tap and shares', (t) => {
  const a = qemuArgs({ accel: 'tcg', vcpus: 2, memoryBytes: 2 * 1024 ** 3, kernel: '/k', initramfs: '/i', append: 'x', console: '/c', disk: '/d.qcow2', agentSocket: '/s', tap: { ifname: 'vbk1x0', mac: '52:54:00:00:00:01' }, shares: [{ host: '/h', tag: 'vbshare0', readonly: true }] });
  const s = a.join(' ');
  t.true(s.includes('-accel tcg -cpu qemu64 -smp 2 -m 2048M'));
  t.true(s.includes('file=/d.qcow2,if=virtio,format=qcow2'));
  t.true(s.includes('virtserialport,chardev=agent,name=vb.agent'));
  t.true(s.includes('tap,id=n0,ifname=vbk1x0,script=no,downscript=no'));
  t.true(s.includes('local,path=/h,mount_tag=vbshare0,security_model=passthrough,readonly=on'));
  t.true(s.includes('-device virtio-balloon-pci'));
  t.true(qemuArgs({ accel: 'kvm', vcpus: 1, memoryBytes: 1024 ** 3, kernel: '/k', initramfs: '/i', append: 'x', console: '/c' }).join(' ').includes('-accel kvm -cpu host'));
  // a share given as a disk (migratable): a read-only raw drive, no 9p export
  const d = qemuArgs({ accel: 'tcg', vcpus: 1, memoryBytes: 1024 ** 3, kernel: '/k', initramfs: '/i', append: 'x', console: '/c', shares: [{ host: '/h', tag: 'vbshare0', readonly: true, disk: '/cache/share-h.ext4' }] }).join(' ');
  t.true(d.includes('-drive file=/cache/share-h.ext4,if=virtio,format=raw,readonly=on'));
  t.false(d.includes('-virtfs'));
});

test('microvm command line: virtio-mmio devices only, the root directory as read-only 9p, a scratch disk, a balloon', (t) => {
  const a = microvmArgs({
    accel: 'tcg', vcpus: 1, memoryBytes: 512 * 1024 ** 2, kernel: '/k', initramfs: '/i', append: 'vb.root=9p', console: '/c',
    disk: '/g/scratch.qcow2', agentSocket: '/g/a.sock', tap: { ifname: 'vbk1x0', mac: '52:54:00:00:00:01' },
    shares: [{ host: '/srv/src', tag: 'vbshare0', readonly: true }], rootDir: '/cache/rootfs/bookworm-x',
  });
  const s = a.join(' ');
  t.is(a[a.indexOf('-M') + 1], 'microvm');
  t.false(/-pci\b/.test(s), 'no PCI device on microvm');
  t.true(s.includes('-fsdev local,id=vbroot,path=/cache/rootfs/bookworm-x,security_model=passthrough,readonly=on -device virtio-9p-device,fsdev=vbroot,mount_tag=vbroot'));
  t.true(s.includes('virtio-blk-device,drive=scratch') && s.includes('file=/g/scratch.qcow2'));
  t.true(s.includes('virtio-net-device,netdev=n0,mac=52:54:00:00:00:01'));
  t.true(s.includes('virtio-9p-device,fsdev=vbshare0,mount_tag=vbshare0') && s.includes('path=/srv/src,security_model=passthrough,readonly=on'));
  t.true(s.includes('virtio-balloon-device'));
});

test('host TSC frequency for microvm under TCG, from /proc/cpuinfo', (t) => {
  t.is(hostTscKhz('processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.422\n'), 2445422);
  t.is(hostTscKhz('processor\t: 0\n'), undefined);
});

test('lxcvm: one VM with every host CPU and four tenants of memory, the cache shared read-only; tenants pinned inside it', (t) => {
  const first = { name: 'vb3-77-target', vcpus: 1, cpus: [0], cpuPolicy: 'cpuset' as const, cpuShares: 1024, memoryBytes: 1024 ** 3, memoryLimit: 'soft' as const, ioWeight: 500, pidsMax: 256, network: true, shares: [] };
  const vm = vmSpecFor(first, 2, 24 * 1024 ** 3, 'vb3-77-vm0');
  t.deepEqual([vm.vcpus, vm.cpus, vm.memoryBytes, vm.memoryLimit, vm.network], [2, [0, 1], 4 * 1024 ** 3, 'hard', true]);
  t.is(vm.shares.length, 1);
  t.true(vm.shares[0]!.readonly);
  t.is(vmSpecFor(first, 2, 4 * 1024 ** 3, 'x').memoryBytes, 3 * 1024 ** 3, 'at most 3/4 of the host');
  t.deepEqual(tenantSpec({ ...first, cpus: [1] }, 2).cpus, [1]);
  t.throws(() => tenantSpec({ ...first, cpus: [2, 3] }, 2), { message: /CPUs 2,3 requested but the VM has 2 vCPUs/ });
});

test('platform default limits apply unless the run chose limits; bare-metal references keep bare metal\'s', (t) => {
  const def = { name: 's', description: '', reference: 'baremetal' as const, platforms: ['baremetal', 'lxcvm'], rows: [{ resource: 'cpu' as const, workload: 'w', neighbours: { competing: 'w' } }] };
  const cells = expandCells(def, { platforms: ['baremetal', 'lxcvm'], cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1, platformLimits: { lxcvm: { cpuPolicy: 'shares', memoryLimit: 'soft' } } });
  const nested = cells.filter((c) => c.platform === 'lxcvm');
  t.deepEqual([...new Set(nested.map((c) => `${c.cpuPolicy}/${c.memoryLimit}`))], ['shares/soft']);
  t.deepEqual(nested.map((c) => c.reference), ['baremetal/w/none:none/cpuset/hard/x1', 'baremetal/w/competing:w/cpuset/hard/x1']);
  t.true(expandCells(def, { platforms: ['lxcvm'], cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1 }).every((c) => c.memoryLimit === 'hard'));
});

test('--accel: auto, kvm or tcg; limits chosen on the command line are marked as chosen', (t) => {
  const known = { platforms: ['kvm', 'lightvm', 'lxcvm'], workloads: ['filebench'], neighbours: [] };
  const o = parseSuiteArgs(['--accel', 'tcg', '--memory-limit', 'hard'], isolation, known);
  if (o === 'help') return t.fail();
  t.is(o.accel, 'tcg');
  t.true(o.memoryLimitChosen);
  t.is(o.cpuPolicyChosen, undefined);
  const d = parseSuiteArgs([], isolation, known);
  t.is(d === 'help' ? 'help' : d.accel, undefined, 'no --accel: the drivers decide (auto)');
  t.throws(() => parseSuiteArgs(['--accel', 'hvf'], isolation, known), { instanceOf: UsageError, message: /unknown accelerator 'hvf'; valid: auto, kvm, tcg/ });
});

test('summary: boot_s is the mean launch time of the measured runs of a cell, empty where samples have none (bare metal)', (t) => {
  const base = { suite: 's', workload: 'w', resource: 'cpu' as const, neighbourKind: 'none' as const, neighbour: 'none', cpuPolicy: 'cpuset' as const, memoryLimit: 'hard' as const, overcommit: 1, metric: 'm', unit: 's', better: 'lower' as const, status: 'ok' as const, vcpus: 1, memoryBytes: 1, start: '', end: '' };
  const rows = summarize([
    { ...base, cell: 'vm', platform: 'lightvm', accel: 'tcg', rep: 1, warmup: true, value: 1, bootSeconds: 30 },
    { ...base, cell: 'vm', platform: 'lightvm', accel: 'tcg', rep: 1, warmup: false, value: 1, bootSeconds: 9 },
    { ...base, cell: 'vm', platform: 'lightvm', accel: 'tcg', rep: 2, warmup: false, value: 2, bootSeconds: 11 },
    { ...base, cell: 'ct', platform: 'lxc', accel: 'native', rep: 1, warmup: false, value: 1 },
  ]);
  t.is(rows.find((r) => r.cell === 'vm')!.boot_s, 10);
  t.true(Number.isNaN(rows.find((r) => r.cell === 'ct')!.boot_s));
});
