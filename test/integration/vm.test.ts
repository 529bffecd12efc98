// Real VM guests on the three VM platforms (TCG where KVM cannot boot one, as on the development
// hosts): the accelerator probe decides quickly; commands run with their exit status and output;
// files go both ways; guests reach each other and the host on the harness bridge; a new guest
// costs little disk; destroy leaves no QEMU, tap or overlay; bad input is one clear line. Then the
// isolation suite's smoke cells on kvm, lightvm and lxcvm. Launch times are logged (t.log).
import test from 'ava';
import { ensurePackages } from '../../core/host.ts';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { cleanupAll } from '../../core/cleanup.ts';
import type { Guest, GuestSpec } from '../../core/types.ts';
import kvm, { KvmGuest } from '../../drivers/kvm.ts';
import lightvm from '../../drivers/lightvm.ts';
import lxcvm from '../../drivers/lxcvm.ts';
import { VM_CACHE, ensureDiskImage } from '../../drivers/vm-image.ts';
import { qemuProcesses, vmLeftovers } from './leftovers.ts';
import { checkSummary, smokeRun } from './smoke.ts';
import { tempDir } from '../tmp.ts';
import { smokeContext } from '../smoke-context.ts';

const ctx = smokeContext;

const spec = (name: string, over: Partial<GuestSpec> = {}): GuestSpec => ({
  name, vcpus: 1, cpus: [1], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 512 * 1024 ** 2, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 256, network: true, shares: [], ...over,
});

/** `to` listens on a port; `from` connects to its address and reads a line back. */
async function reaches(from: Guest, to: Guest, port: number): Promise<string> {
  const server = to.spawn(`perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => ${port}, Listen => 1, ReuseAddr => 1) or die; $c = $s->accept; print $c "hello from ${to.name}\\n"; close $c'`, { timeoutMs: 90_000 });
  let got = '';
  for (let i = 0; i < 30 && !got.trim(); i++) {
    const r = await from.sh(`perl -MIO::Socket::INET -e '$c = IO::Socket::INET->new(PeerAddr => "${to.address()}:${port}", Timeout => 3) or exit 1; print <$c>'`, { check: false, timeoutMs: 20_000 });
    got = r.stdout;
    if (!got.trim()) await new Promise((res) => setTimeout(res, 500));
  }
  server.kill('SIGKILL');
  await server.done;
  return got.trim();
}

/** The host connects to a guest's address: the guest is on the harness bridge. */
async function hostReaches(to: Guest, port: number): Promise<string> {
  const server = to.spawn(`perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => ${port}, Listen => 1, ReuseAddr => 1) or die; $c = $s->accept; print $c "hello from ${to.name}\\n"; close $c'`, { timeoutMs: 90_000 });
  let reply = '';
  for (let i = 0; i < 60 && !reply; i++) {
    reply = await new Promise<string>((resolve) => {
      const c = createConnection({ host: to.address()!, port });
      let got = '';
      c.on('data', (d) => (got += d.toString()));
      c.on('end', () => resolve(got));
      c.on('error', () => resolve(''));
      c.setTimeout(3000, () => {
        c.destroy();
        resolve('');
      });
    });
    if (!reply) await new Promise((r) => setTimeout(r, 250));
  }
  await server.done;
  return reply.trim();
}

/** Commands with status and output, env and cwd, stdin, a timeout, and a file both ways. */
async function basics(t: import('ava').ExecutionContext, g: Guest): Promise<void> {
  const r = await g.sh('echo out; echo err >&2; exit 7', { check: false });
  t.deepEqual([r.exitCode, r.stdout, r.stderr], [7, 'out\n', 'err\n']);
  t.is((await g.sh('echo $FOO; pwd', { env: { FOO: "a'b" }, cwd: '/tmp' })).stdout, "a'b\n/tmp\n");
  t.is((await g.sh('cat', { input: 'piped' })).stdout, 'piped');
  t.true((await g.sh('sleep 30', { timeoutMs: 1000, check: false })).timedOut);
  const tmp = tempDir('vb-it-vm-');
  const data = Buffer.alloc(300_000, 'x');
  data.write(`virtbench ${g.name}`);
  await writeFile(join(tmp, 'in.bin'), data);
  await g.pushFile(join(tmp, 'in.bin'), `${g.workdir}/in.bin`);
  t.is((await g.sh(`stat -c %s ${g.workdir}/in.bin`)).stdout.trim(), '300000');
  await g.pullFile(`${g.workdir}/in.bin`, join(tmp, 'back.bin'));
  t.true((await readFile(join(tmp, 'back.bin'))).equals(data), 'file round trip');
}

test.before(async () => {
  // what a suite run installs for these platforms (a fresh host has none of it)
  await ensurePackages([kvm, lightvm, lxcvm].flatMap((d) => d.hostPackages), ctx.log);
  for (const d of [kvm, lightvm, lxcvm]) await d.sweep?.();
});

test.after.always(async () => {
  await cleanupAll();
});

test.serial('kvm: probe, boot, commands, files, network, overlay cost, clean destroy', async (t) => {
  t.timeout(300_000);
  const t0 = Date.now();
  const probe = await kvm.probe();
  const probeMs = Date.now() - t0;
  t.log(`probe: ${JSON.stringify(probe)} in ${(probeMs / 1000).toFixed(1)} s`);
  t.true(probe.ok, probe.reason);
  t.true(probeMs < 30_000, 'the accelerator probe decides within 30 s');
  await kvm.prepare!(ctx);
  const g = (await kvm.provision(spec('vb-it-kvm', { shares: [{ host: '/usr/share/doc/bash', guest: '/mnt/doc', readonly: true }] }), ctx)) as KvmGuest;
  try {
    t.log(`kvm boot (QEMU start to agent ready): ${g.bootSeconds?.toFixed(1)} s, accel ${g.accel}`);
    t.is(g.accel, probe.accel!);
    t.is((await g.sh('nproc')).stdout.trim(), '1');
    t.truthy((await g.sh('ls /mnt/doc')).stdout.trim(), 'share visible');
    t.is((await g.sh('cat /sys/fs/cgroup/vb/pids.max')).stdout.trim(), '256', "the spec's process ceiling in the guest");
    t.regex((await g.sh('ls /sys/bus/virtio/drivers/')).stdout, /virtio_balloon/);
    await basics(t, g);
    t.is(await hostReaches(g, 7777), `hello from ${g.name}`, `the guest at ${g.address()} answers the host`);
    await g.sh(`dd if=/dev/zero of=${g.workdir}/w bs=1M count=16 conv=fsync status=none`);
    const cost = g.overlayBytes();
    t.log(`kvm overlay disk cost after boot and a 16 MB write: ${(cost / 1e6).toFixed(1)} MB`);
    t.true(cost < 100e6);
    const u = await g.usage();
    t.true((u.memoryBytes ?? 0) > 0, 'QEMU cgroup usage readable');
    const qemuCgroup = readFileSync(`/proc/${g.qemuPid}/cgroup`, 'utf8');
    t.regex(qemuCgroup, new RegExp(`/vb-it-kvm$`, 'm'), 'QEMU runs in the guest harness cgroup');
  } finally {
    const pid = g.qemuPid;
    const tap = g.tapName;
    await g.destroy();
    t.false(pid !== undefined && existsSync(`/proc/${pid}`), 'no QEMU process');
    t.not((await execa('ip', ['link', 'show', tap ?? 'none'], { reject: false })).exitCode, 0, 'no tap');
    t.false(existsSync(g.overlay), 'no overlay');
  }
  await cleanupAll();
  t.deepEqual(await vmLeftovers(), []);
});

test.serial('lightvm: microvm on the shared root directory; a lightvm and a kvm guest reach each other and the host; launch time; disk cost', async (t) => {
  t.timeout(400_000);
  await lightvm.prepare!(ctx);
  await kvm.prepare!(ctx);
  const a = (await lightvm.provision(spec('vb-it-light'), ctx)) as KvmGuest;
  const b = (await kvm.provision(spec('vb-it-kvm2', { cpus: [0] }), ctx)) as KvmGuest;
  try {
    t.log(`lightvm launch (QEMU start to agent ready): ${a.bootSeconds?.toFixed(1)} s, accel ${a.accel}`);
    t.is(a.platform, 'lightvm');
    const mounts = (await a.sh('cat /proc/mounts')).stdout;
    // the 9p mount itself sits in the initramfs, out of the new root's view: its overlay and device say it
    t.regex(mounts, /^overlay \/ overlay \S*lowerdir=\/lower/m, 'root is an overlay');
    t.regex((await a.sh('cat /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag')).stdout, /vbroot/, 'its lower layer is the host directory over 9p');
    t.regex((await a.sh('ls /sys/bus/virtio/drivers/')).stdout, /virtio_balloon/);
    t.is((await a.sh('ls /sys/bus/pci/devices 2>/dev/null | wc -l')).stdout.trim(), '0', 'no PCI bus on microvm');
    await basics(t, a);
    t.is(await hostReaches(a, 7778), `hello from ${a.name}`);
    t.is(await reaches(a, b, 7779), `hello from ${b.name}`, 'lightvm -> kvm');
    t.is(await reaches(b, a, 7780), `hello from ${a.name}`, 'kvm -> lightvm');
    await a.sh(`dd if=/dev/zero of=${a.workdir}/w bs=1M count=16 conv=fsync status=none`);
    const cost = a.overlayBytes();
    t.log(`lightvm scratch overlay disk cost after boot and a 16 MB write: ${(cost / 1e6).toFixed(1)} MB`);
    t.true(cost < 100e6);
  } finally {
    const pids = [a.qemuPid, b.qemuPid];
    const taps = [a.tapName, b.tapName];
    await a.destroy();
    await b.destroy();
    for (const pid of pids) t.false(pid !== undefined && existsSync(`/proc/${pid}`), 'no QEMU process');
    for (const tap of taps) t.not((await execa('ip', ['link', 'show', tap ?? 'none'], { reject: false })).exitCode, 0, 'no tap');
    t.false(existsSync(a.overlay) || existsSync(b.overlay), 'no overlay');
  }
  await cleanupAll();
  t.deepEqual(await vmLeftovers(), []);
});

test.serial('lxcvm: two containers in one VM; commands, files, network, soft limits, killAll of many processes; the VM goes with the last container', async (t) => {
  t.timeout(900_000);
  await lxcvm.prepare!(ctx);
  const a = await lxcvm.provision(spec('vb-it-nest-target', { cpus: [0], memoryLimit: 'soft' }), ctx);
  const b = await lxcvm.provision(spec('vb-it-nest-nb', { cpus: [1], memoryLimit: 'soft' }), ctx);
  const vm = (a as unknown as { vm: KvmGuest }).vm;
  try {
    t.log(`lxcvm launch: first container ${a.bootSeconds?.toFixed(1)} s (VM boot ${vm.bootSeconds?.toFixed(1)} s included), second ${b.bootSeconds?.toFixed(1)} s`);
    t.is((b as unknown as { vm: KvmGuest }).vm, vm, 'both containers in the same VM');
    t.is((await a.sh('hostname')).stdout.trim(), 'vb-it-nest-target');
    t.is((await b.sh('nproc')).stdout.trim(), '1', 'pinned to one of the VM vCPUs');
    t.is((await a.sh('cat /sys/fs/cgroup/memory.low')).stdout.trim(), String(512 * 1024 ** 2), 'soft limit: protected up to its size');
    t.is((await a.sh('cat /sys/fs/cgroup/pids.max')).stdout.trim(), '256');
    await basics(t, a);
    t.is(await reaches(a, b, 7781), `hello from ${b.name}`, 'container -> container');
    t.is(await hostReaches(b, 7782), `hello from ${b.name}`, 'host -> nested container');
    const many = a.spawn('for i in $(seq 100); do sleep 600 & done; wait');
    for (let i = 0; i < 60 && Number((await a.sh('pgrep -c -x sleep', { check: false })).stdout.trim()) < 100; i++) await new Promise((r) => setTimeout(r, 500));
    await a.killAll();
    t.is((await a.sh('pgrep -c -x sleep', { check: false })).stdout.trim(), '1', 'only the init sleep is left');
    await many.done;
    t.is((await a.sh('echo alive')).stdout, 'alive\n', 'the container lives on after killAll');
    t.log(`lxcvm VM overlay disk cost (VM disk and both containers' upper layers): ${(vm.overlayBytes() / 1e6).toFixed(1)} MB`);
    t.true(vm.overlayBytes() < 100e6);
  } finally {
    const pid = vm.qemuPid;
    await b.destroy();
    t.true(pid !== undefined && existsSync(`/proc/${pid}`), 'the VM stays while a container is left');
    await a.destroy();
    t.false(pid !== undefined && existsSync(`/proc/${pid}`), 'no QEMU process after the last container');
  }
  await cleanupAll();
  t.deepEqual(await vmLeftovers(), []);
});

test.serial('bad input: QEMU missing, a guest that never becomes ready, pinning to absent CPUs, a disk image that cannot be built', async (t) => {
  t.timeout(300_000);
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    for (const d of [kvm, lightvm, lxcvm]) {
      const p = await d.probe();
      t.false(p.ok);
      t.regex(p.reason ?? '', /^qemu-system-x86_64 is not installed/);
    }
  } finally {
    process.env.PATH = path;
  }
  await kvm.prepare!(ctx);
  // 24 MiB is too little for Debian's kernel: it never reaches the agent (retried once, then one line)
  const err = await t.throwsAsync(kvm.provision(spec('vb-it-tiny', { memoryBytes: 24 * 1024 ** 2 }), ctx));
  t.log(`never ready: ${err?.message}`);
  t.notRegex(err?.message ?? '', /\n/);
  t.regex(err?.message ?? '', /vb-it-tiny.*(panic|memory|ready)/i, 'the cause, from the guest console');
  await t.throwsAsync(lightvm.provision(spec('vb-it-pin', { cpus: [0, 64] }), ctx), { message: /pinned to CPU 64 but the host has \d+ CPUs/ });
  await t.throwsAsync(ensureDiskImage('/nonexistent/rootfs', () => undefined), { message: /could not build the disk image/ });
  t.false(readdirSync(VM_CACHE).some((f) => f.includes('nonexistent') || f.includes('.raw-') || f.includes('.tmp-')), 'no half-built image');
  await cleanupAll();
  t.deepEqual(await vmLeftovers(), []);
});

test.serial('SIGINT while VM guests run (lightvm pair, lxcvm VM with two containers): exit 130, nothing left', async (t) => {
  t.timeout(600_000);
  for (const platform of ['lightvm', 'lxcvm']) {
    const out = tempDir('vb-vm-int-');
    const args = ['--import', 'tsx', 'cli/suite.ts', 'isolation', '--profile', 'smoke', '--platforms', platform, '--workloads', 'filebench', '--neighbours', 'competing', '--reps', '1', '--out', out, '--seed', '2'];
    const child = execa(process.execPath, args, { reject: false, all: true, env: { CI: '1' } });
    let log = '';
    child.all?.on('data', (d: Buffer) => (log += d.toString()));
    // interrupt once the target and its neighbour are up, in the middle of the measured run
    const t0 = Date.now();
    while (Date.now() - t0 < 300_000 && (log.match(/ready in /g) ?? []).length < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    t.true((log.match(/ready in /g) ?? []).length >= 2, `${platform}: two guests were up\n${log.split('\n').slice(-5).join('\n')}`);
    t.true((await qemuProcesses()).length > 0, `${platform}: QEMU ran when the signal was sent`);
    child.kill('SIGINT');
    const r = await child;
    t.is(r.exitCode, 130, `${platform}\n${(r.all ?? '').split('\n').slice(-8).join('\n')}`);
    t.deepEqual(await vmLeftovers(), [], platform);
  }
});

// The smallest isolation matrix that runs every VM platform through the suite with a neighbour of
// each kind, and a measured kernel compile in a VM (the whole 18-cell VM matrix is in test:long):
// kvm beside an adversary (bonnie++), lightvm beside a competitor (filebench) and measuring a kernel
// compile, lxcvm beside an orthogonal neighbour (a kernel compile in the same VM).
const VM_CELLS: Record<string, { workloads: string; neighbours: string; cells: number }> = {
  kvm: { workloads: 'filebench', neighbours: 'bonnie', cells: 2 },
  // kernel compile on a TCG VM takes minutes: it runs in test/long's matrices, not in CI's budget
  lightvm: { workloads: 'filebench', neighbours: 'filebench', cells: 2 },
  lxcvm: { workloads: 'filebench', neighbours: 'kernel-compile', cells: 2 },
};

for (const [platform, sel] of Object.entries(VM_CELLS)) {
  test.serial(`isolation smoke cells on ${platform} under the probed accelerator: ${sel.workloads} alone and beside ${sel.neighbours}`, async (t) => {
    t.timeout(20 * 60_000);
    const run = await smokeRun('isolation', ['--platforms', platform, '--workloads', sel.workloads, '--neighbours', sel.neighbours, '--reps', '1', '--timeout', '5m']);
    t.log(`smoke isolation on ${platform}: ${run.minutes.toFixed(1)} min`);
    t.is(run.exitCode, 0, run.tail);
    t.is(new Set(run.samples.map((s) => s.cell)).size, sel.cells);
    t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.status} ${s.message}`), [], 'every smoke run finishes');
    t.true(run.samples.every((s) => typeof s.bootSeconds === 'number' && s.bootSeconds > 0), 'every sample has its launch time');
    t.true(run.samples.every((s) => s.accel === run.manifest.accel[platform]), `accel ${run.manifest.accel[platform]} on every sample`);
    // one launch per run (a run's samples share it); cell ids contain ':', so key by run, not by text
    const boots = [...new Map(run.samples.map((s) => [`${s.cell}#${s.rep}`, s.bootSeconds!])).values()];
    t.log(`${platform}: launch ${Math.min(...boots).toFixed(1)}-${Math.max(...boots).toFixed(1)} s over ${boots.length} runs (accel ${run.samples[0]!.accel})`);
    if (platform === 'lxcvm') t.true(run.samples.every((s) => s.cpuPolicy === 'shares' && s.memoryLimit === 'soft'), 'lxcvm: soft limits by default');
    checkSummary(t, run, 1);
    const bootCol = run.header.indexOf('boot_s');
    t.true(bootCol >= 0 && run.rows.every((r) => Number(r.boot_s) > 0), 'summary has boot_s for every VM cell');
    t.deepEqual(await vmLeftovers(), []);
  });
}
