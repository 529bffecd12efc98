// Pure pieces of the VM platforms: module load order from the guest kernel's real modules.dep
// (an excerpt of the one depmod made for Debian's 6.1 generic kernel), the agent's framing,
// exit statuses, the initramfs archive format and QEMU's command line.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { FrameDecoder, encodeFrame, parseExit } from '../../drivers/vm-agent.ts';
import { cpioNewc, moduleLoadOrder, moduleName, parseModulesDep } from '../../drivers/vm-image.ts';
import { qemuArgs } from '../../drivers/kvm.ts';

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
  t.true(s.includes('-accel tcg -cpu max -smp 2 -m 2048M'));
  t.true(s.includes('file=/d.qcow2,if=virtio,format=qcow2'));
  t.true(s.includes('virtserialport,chardev=agent,name=vb.agent'));
  t.true(s.includes('tap,id=n0,ifname=vbk1x0,script=no,downscript=no'));
  t.true(s.includes('local,path=/h,mount_tag=vbshare0,security_model=passthrough,readonly=on'));
  t.true(qemuArgs({ accel: 'kvm', vcpus: 1, memoryBytes: 1024 ** 3, kernel: '/k', initramfs: '/i', append: 'x', console: '/c' }).join(' ').includes('-accel kvm -cpu host'));
});
