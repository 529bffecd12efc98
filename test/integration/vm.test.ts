// One real kvm-driver guest (TCG where KVM cannot boot one, as on the development hosts): the
// accelerator probe decides quickly, commands run with their exit status and output, files go
// both ways, the guest's address answers from the host, a guest's overlay stays small, and
// destroy leaves no QEMU, tap or overlay.
import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { cleanupAll } from '../../core/cleanup.ts';
import { PROFILES } from '../../core/profiles.ts';
import type { GuestSpec, RunContext } from '../../core/types.ts';
import { HARNESS_GROUP, cgroupOf } from '../../drivers/cgroups.ts';
import kvm, { KvmGuest } from '../../drivers/kvm.ts';
import { allGuestPackages } from '../../workloads/index.ts';
import { leftovers } from './leftovers.ts';

const ctx: RunContext = {
  profile: PROFILES.smoke,
  cacheDir: '/var/cache/virtbench',
  guestPackages: allGuestPackages(),
  log: (l) => console.log(l),
  signal: new AbortController().signal,
  timeoutS: 120,
  tiers: {},
};

const spec: GuestSpec = {
  name: 'vb-it-kvm', vcpus: 1, cpus: [1], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes: 512 * 1024 ** 2, memoryLimit: 'hard',
  ioWeight: 500, pidsMax: 256, network: true, shares: [{ host: '/usr/share/doc/bash', guest: '/mnt/doc', readonly: true }],
};

test.before(async () => {
  await kvm.sweep?.();
});

test.after.always(async () => {
  await cleanupAll();
});

test('kvm: probe, boot, commands, files, network, overlay cost, clean destroy', async (t) => {
  t.timeout(240_000);
  const t0 = Date.now();
  const probe = await kvm.probe();
  const probeMs = Date.now() - t0;
  t.log(`probe: ${JSON.stringify(probe)} in ${(probeMs / 1000).toFixed(1)} s`);
  t.true(probe.ok, probe.reason);
  t.true(probeMs < 30_000, 'the accelerator probe decides within 30 s');
  await kvm.prepare!(ctx);
  const g = (await kvm.provision(spec, ctx)) as KvmGuest;
  const tmp = await mkdtemp(join(tmpdir(), 'vb-it-kvm-'));
  try {
    t.log(`boot (QEMU start to agent ready): ${g.bootSeconds?.toFixed(1)} s, accel ${g.accel}`);
    t.is(g.accel, probe.accel!);
    const r = await g.sh('echo out; echo err >&2; exit 7', { check: false });
    t.deepEqual([r.exitCode, r.stdout, r.stderr], [7, 'out\n', 'err\n']);
    t.is((await g.sh('nproc')).stdout.trim(), '1');
    // QEMU itself runs in the guest's harness cgroup, pinned like any other platform's guest
    t.is(cgroupOf(g.qemuPid!, 'cpuset'), `${HARNESS_GROUP}/${spec.name}`);
    t.is((await execa('taskset', ['-pc', String(g.qemuPid)])).stdout.replace(/.*: /, '').trim(), '1', 'QEMU on host CPU 1');
    t.is((await g.sh('echo $FOO; pwd', { env: { FOO: "a'b" }, cwd: '/tmp' })).stdout, "a'b\n/tmp\n");
    t.is((await g.sh('cat', { input: 'piped' })).stdout, 'piped');
    t.true((await g.sh('sleep 30', { timeoutMs: 1000, check: false })).timedOut);
    t.truthy((await g.sh('ls /mnt/doc')).stdout.trim(), 'share visible');

    const src = join(tmp, 'in.bin');
    const data = Buffer.alloc(300_000, 'x');
    data.write('virtbench');
    await writeFile(src, data);
    await g.pushFile(src, `${g.workdir}/in.bin`);
    t.is((await g.sh(`stat -c %s ${g.workdir}/in.bin`)).stdout.trim(), '300000');
    await g.pullFile(`${g.workdir}/in.bin`, join(tmp, 'back.bin'));
    t.true((await readFile(join(tmp, 'back.bin'))).equals(data), 'file round trip');

    const addr = g.address();
    t.truthy(addr);
    // the guest answers a TCP connection from the host on the harness bridge (no ping binary needed)
    const server = g.spawn(`perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => 7777, Listen => 1, ReuseAddr => 1) or die; print STDOUT "up\\n"; STDOUT->flush; $c = $s->accept; print $c "hello from guest\\n"; close $c'`, { timeoutMs: 60_000 });
    let reply = '';
    for (let i = 0; i < 40 && !reply; i++) {
      reply = await new Promise<string>((resolve) => {
        const c = createConnection({ host: addr!, port: 7777 });
        let got = '';
        c.on('data', (d) => (got += d.toString()));
        c.on('end', () => resolve(got));
        c.on('error', () => resolve(''));
        c.setTimeout(3000, () => { c.destroy(); resolve(''); });
      });
      if (!reply) await new Promise((r) => setTimeout(r, 250));
    }
    t.is(reply, 'hello from guest\n', `the guest at ${addr} answers the host`);
    await server.done;
    await g.sh(`dd if=/dev/zero of=${g.workdir}/w bs=1M count=16 conv=fsync status=none`);
    const cost = g.overlayBytes();
    t.log(`overlay disk cost after boot and a 16 MB write: ${(cost / 1e6).toFixed(1)} MB`);
    t.true(cost < 100e6);
    const u = await g.usage();
    t.true((u.memoryBytes ?? 0) > 0, 'QEMU cgroup usage readable');
  } finally {
    const pid = g.qemuPid;
    const tap = g.tapName;
    await g.destroy();
    await rm(tmp, { recursive: true, force: true });
    t.false(pid !== undefined && existsSync(`/proc/${pid}`), 'no QEMU process');
    t.not((await execa('ip', ['link', 'show', tap ?? 'none'], { reject: false })).exitCode, 0, 'no tap');
    t.false(existsSync(g.overlay), 'no overlay');
  }
  await cleanupAll();
  // other helpers' containers may run beside this test on a shared host: only this driver's traces count
  t.deepEqual((await leftovers()).filter((l) => !l.includes('lxc')), []);
});
