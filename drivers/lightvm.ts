// lightvm: a Clear-Linux-style lightweight VM (Section 7.2 of the study). QEMU's microvm machine:
// no PCI, no firmware tables beyond a minimal ACPI, virtio-mmio devices only, the kernel booted
// directly. There is no root disk image: the root is the very directory the LXC driver uses,
// shared read-only over virtio-9p, under an overlay whose upper layer is an empty ext4 scratch
// disk (a qcow2 overlay per guest); with a private image, the guest's own copy of that directory. The scratch disk rather than tmpfs (RAM the guest's memory
// limit would count; the paper profile writes a 5 GB file) or a host directory over 9p (every
// write through 9p, measuring 9p rather than the VM's disk path).
// The guest itself (agent, cgroup, tap, retry, cleanup) is KvmGuest with another machine.
import type { Accel, Driver, GuestSpec, PrepareContext, ProfileName, RunContext, ProbeOptions } from '../core/types.ts';
import { UnavailableError } from '../core/errors.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_DIR } from '../core/host.ts';
import { treeUsageBytes } from './disk-usage.ts';
import kvm, { BALLOON_OPTIONS, KvmGuest, controlArgs, copyVmImage, ensureBootImages, preparedFor, privateImagePath, sweepVms, vmCapabilities, vmImageCopy, type QemuInput, type VmMachine } from './kvm.ts';
import { ensureRootfs, recipeFor, rootfsPath } from './rootfs.ts';
import { ensureScratchImage } from './vm-image.ts';

const MiB = 1024 * 1024;

/** QEMU arguments of a microvm guest whose root is the host directory `rootDir` (pure: tested and readable). */
export function microvmArgs(o: QemuInput & { rootDir: string }): string[] {
  const a = ['-M', 'microvm', '-accel', o.accel === 'kvm' ? 'kvm' : 'tcg', '-cpu', o.accel === 'kvm' ? 'host' : 'max'];
  a.push('-smp', String(o.vcpus), '-m', `${Math.floor(o.memoryBytes / MiB)}M`);
  a.push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-serial', `file:${o.console}`);
  a.push('-kernel', o.kernel, '-initrd', o.initramfs, '-append', o.append);
  const fs9p = (id: string, path: string, tag: string, readonly: boolean) => {
    a.push('-fsdev', `local,id=${id},path=${path},security_model=passthrough${readonly ? ',readonly=on' : ''}`);
    a.push('-device', `virtio-9p-device,fsdev=${id},mount_tag=${tag}`);
  };
  fs9p('vbroot', o.rootDir, 'vbroot', true);
  if (o.disk) a.push('-drive', `id=scratch,file=${o.disk},if=none,format=qcow2,cache=none,aio=threads,discard=unmap`, '-device', 'virtio-blk-device,drive=scratch');
  if (o.plainDisk) a.push('-drive', `id=plain,file=${o.plainDisk},if=none,format=raw,cache=none,aio=threads,discard=unmap`, '-device', 'virtio-blk-device,drive=plain');
  if (o.agentSocket) {
    a.push('-device', 'virtio-serial-device', '-chardev', `socket,id=agent,path=${o.agentSocket},server=on,wait=off`);
    a.push('-device', 'virtserialport,chardev=agent,name=vb.agent');
  }
  if (o.tap) a.push('-netdev', `tap,id=n0,ifname=${o.tap.ifname},script=no,downscript=no`, '-device', `virtio-net-device,netdev=n0,mac=${o.tap.mac}`);
  (o.shares ?? []).forEach((s, i) => fs9p(`vbshare${i}`, s.host, s.tag, s.readonly));
  a.push('-device', `virtio-balloon-device,${BALLOON_OPTIONS}`);
  a.push(...controlArgs(o));
  return a;
}

/**
 * Under TCG the microvm guest has no timer to calibrate its TSC against (no HPET, no ACPI PM timer)
 * and hung early in every boot measured here ("could not calculate TSC khz", or stuck at
 * "Mountpoint-cache" with a forced LAPIC period). TCG's TSC is the host's, so the host's frequency
 * is given. Under KVM the guest uses kvm-clock.
 */
export function hostTscKhz(cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')): number | undefined {
  const mhz = Number(cpuinfo.match(/^cpu MHz\s*:\s*([\d.]+)/m)?.[1]);
  return Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : undefined;
}

function microvm(rootDir: string): VmMachine {
  const khz = hostTscKhz();
  return {
    platform: 'lightvm',
    privateImage: 'root-dir',
    append: (accel: Accel) => `vb.root=9p${accel === 'tcg' && khz ? ` tsc_early_khz=${khz}` : ''}`,
    qemuArgs: (o) => microvmArgs({ ...o, rootDir }),
  };
}

let rootfs: string | undefined;
let scratch: string | undefined;
let accel: Accel | undefined;

const lightvm: Driver = {
  name: 'lightvm',
  description: 'Lightweight VMs (QEMU microvm, direct kernel boot, virtio-mmio) whose root is the LXC root filesystem shared over virtio-9p',
  hostPackages: kvm.hostPackages,
  cpuPolicies: ['cpuset', 'shares', 'quota'],
  // same accelerator decision as kvm: it is about this host's KVM, not the machine type
  probe: (profile?: ProfileName, opts?: ProbeOptions) => kvm.probe(profile, opts),
  async prepare(ctx: PrepareContext) {
    const p = await kvm.probe(ctx.profile.name);
    if (!p.ok || !p.accel) throw new UnavailableError(p.reason ?? 'no accelerator boots a guest');
    accel = p.accel;
    await ensureBootImages(ctx.log);
    rootfs = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
    scratch = await ensureScratchImage(ctx.log);
    preparedFor.add('lightvm');
  },
  async provision(spec: GuestSpec, ctx: RunContext) {
    if (!rootfs || !scratch || !accel) throw new Error('lightvm driver used before prepare()');
    // private: its own copy of the root directory (made by copyImage before the launch, else now), shared over 9p instead
    const own = privateImagePath('lightvm', spec.name);
    const guest = new KvmGuest(spec, accel, microvm(spec.image === 'private' ? own : rootfs));
    try {
      if (spec.image === 'private' && !existsSync(own)) await copyVmImage(rootfs, 'lightvm', spec.name, ctx.signal);
      await guest.start(scratch, ctx.log, ctx.signal);
    } catch (err) {
      await guest.destroy();
      throw err;
    }
    return guest;
  },
  async copyImage(spec: GuestSpec, ctx: RunContext) {
    if (!rootfs) throw new Error('lightvm driver used before prepare()');
    return vmImageCopy(rootfs, 'lightvm', spec.name, ctx.signal);
  },
  async imageCopyTarget(guestPackages: string[]) {
    const dir = rootfsPath(recipeFor(guestPackages));
    return { dir: join(STATE_DIR, 'lightvm'), ...(existsSync(join(dir, '.virtbench-recipe.json')) ? { bytes: await treeUsageBytes(dir) } : {}) };
  },
  sweep: () => sweepVms('lightvm'),
  // pause is QMP stop/cont as on kvm; QEMU refuses to migrate (so to checkpoint or clone) a guest
  // whose 9p root is mounted, and the probe reports QEMU's own reason: no restore or clone here
  capabilities: (profile?: ProfileName) =>
    vmCapabilities(lightvm, profile, { pause: 'QMP stop/cont', checkpoint: 'QEMU migration stream to a file', migrate: 'QEMU live migration over a Unix socket' }),
};

export default lightvm;
