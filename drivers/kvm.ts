// KVM: full virtual machines under QEMU. Debian's generic kernel boots directly (no firmware,
// no bootloader) with our initramfs, the root is a qcow2 copy-on-write overlay of the cached disk
// image (with a private image: the guest's own full copy of that qcow2, no backing file), commands go through the guest agent over virtio-serial (drivers/vm-agent.ts). The QEMU
// process lives in the guest's harness cgroup, so pinning and limits are the other platforms'.
// Where KVM cannot boot a guest (e.g. a paravirtual host KVM), TCG is used when allowed and the
// samples say accel=tcg.
import { execa, type ResultPromise } from 'execa';
import { createReadStream, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { UnavailableError } from '../core/errors.ts';
import { CACHE_DIR, STATE_DIR, isRoot, memoryCeiling } from '../core/host.ts';
import { PROFILES } from '../core/profiles.ts';
import { quoteSh, shellLine } from '../core/shell-quote.ts';
import type { Accel, Capabilities, Checkpoint, Driver, ProbeOptions, ExecOptions, ExecResult, Guest, GuestProcess, GuestSpec, ImageCopy, MigrationStats, PrepareContext, ProfileName, RunContext } from '../core/types.ts';
import { ensureBridge, sweepBridge } from './bridge.ts';
import { HarnessCgroup, dirFor, ensureHarnessGroup, killCgroupScript } from './cgroups.ts';
import { QmpClient } from './qmp.ts';
import { CHECKPOINT_FILES, checkRoom, checkpointStamp, lastLine, migrationBlocked, migrationStats, readMeta, runMigration, stampMismatch, waitIncomingDone, writeMeta, type VmCheckpointMeta } from './vm-state.ts';
import { probeVmCapabilities } from './vm-caps.ts';
import { resetOomAdjShell } from './oom-guard.ts';
import { GUEST_ENV, GuestCommandError, withContext } from './guest-process.ts';
import { ensureRootfs, recipeFor, rootfsPath } from './rootfs.ts';
import { treeUsageBytes } from './disk-usage.ts';
import { currentGuestMitigations } from './mitigations.ts';
import { AgentConnection } from './vm-agent.ts';
import { PLAIN_LABEL, createOverlay, ensureShareImage, shareLabel, createPlainDisk, diskImagePath, diskUsageBytes, ensureDiskImage, ensureInitramfs, ensureKernel, type GuestKernel } from './vm-image.ts';

export const KVM_STATE = join(STATE_DIR, 'kvm');
const MiB = 1024 * 1024;
/** QEMU's own memory beside the guest's RAM (device emulation, TCG translation cache). */
const QEMU_OVERHEAD_BYTES = 512 * MiB;
const BOOT_TIMEOUT_MS = Number(process.env.VIRTBENCH_VM_BOOT_TIMEOUT_S ?? 90) * 1000;
/** A working KVM boots the probe guest in about a second; a hanging one never does. */
const KVM_PROBE_TIMEOUT_MS = 12_000;
const TCG_PROBE_TIMEOUT_MS = 25_000;
export const TAP_PREFIX = 'vbk';
/** How long a killed guest command may take to report its exit before the host stops waiting. */
const KILL_GRACE_MS = 15_000;

export type AccelChoice = 'auto' | 'kvm' | 'tcg';
export function accelChoice(): AccelChoice {
  const v = process.env.VIRTBENCH_ACCEL ?? 'auto';
  if (v !== 'auto' && v !== 'kvm' && v !== 'tcg') throw new UnavailableError(`VIRTBENCH_ACCEL must be auto, kvm or tcg, not ${v}`);
  return v;
}

let images: { kernel: GuestKernel; initramfs: string; disk?: string } | undefined;
let accel: Accel | undefined;

export async function ensureBootImages(log: (line: string) => void) {
  if (images) return images;
  const kernel = await ensureKernel(log);
  images = { kernel, initramfs: await ensureInitramfs(kernel, log) };
  return images;
}

/** What a guest's QEMU is given, whatever the machine type. */
export interface QemuInput {
  accel: Accel;
  vcpus: number;
  memoryBytes: number;
  kernel: string;
  initramfs: string;
  append: string;
  console: string;
  disk?: string;
  /** A raw disk after the root one (GuestSpec.plainDir), found by its label in the guest. */
  plainDisk?: string;
  agentSocket?: string;
  /** QEMU's control socket (QMP): pause, checkpoints, migration. */
  qmpSocket?: string;
  /** Start waiting for the guest's state from this migration URI instead of booting (restore, migration destination). */
  incoming?: string;
  tap?: { ifname: string; mac: string };
  /** `disk`: the share as a read-only raw disk image instead of 9p (Share.asDisk; pc machine only). */
  shares?: { host: string; tag: string; readonly: boolean; disk?: string }[];
}

/**
 * Memory overcommit: the guest hands pages it frees back to the host (free page reporting, the
 * guest's virtio_balloon module), so the QEMU process in the arena shrinks instead of holding
 * every page the guest ever touched; an inflated balloon deflates before the guest's OOM killer
 * acts. What the guest still uses, the host reclaims from QEMU's cgroup (swap) like a container's.
 */
export const BALLOON_OPTIONS = 'deflate-on-oom=on,free-page-reporting=on';

/** QEMU arguments common to the probe and real guests (pure: tested and readable). */
export function qemuArgs(o: QemuInput): string[] {
  // TCG: the default qemu64 model, not 'max': with 'max' a loaded guest was often lost right after
  // a live migration (virtio_net 'id N is not a head!', soft lockups, an oops; QEMU 7.2 here), with
  // qemu64 none of the same migrations failed (drivers' note in the README, 2026-12-03)
  const a = ['-M', 'pc', '-accel', o.accel === 'kvm' ? 'kvm' : 'tcg', '-cpu', o.accel === 'kvm' ? 'host' : 'qemu64'];
  a.push('-smp', String(o.vcpus), '-m', `${Math.floor(o.memoryBytes / MiB)}M`);
  a.push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-serial', `file:${o.console}`);
  a.push('-kernel', o.kernel, '-initrd', o.initramfs, '-append', o.append);
  if (o.disk) a.push('-drive', `file=${o.disk},if=virtio,format=qcow2,cache=none,aio=threads,discard=unmap`);
  if (o.plainDisk) a.push('-drive', `file=${o.plainDisk},if=virtio,format=raw,cache=none,aio=threads,discard=unmap`);
  if (o.agentSocket) {
    a.push('-device', 'virtio-serial-pci', '-chardev', `socket,id=agent,path=${o.agentSocket},server=on,wait=off`);
    a.push('-device', 'virtserialport,chardev=agent,name=vb.agent');
  }
  if (o.tap) a.push('-netdev', `tap,id=n0,ifname=${o.tap.ifname},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,mac=${o.tap.mac}`);
  for (const s of o.shares ?? []) {
    if (s.disk) a.push('-drive', `file=${s.disk},if=virtio,format=raw,readonly=on`);
    else a.push('-virtfs', `local,path=${s.host},mount_tag=${s.tag},security_model=passthrough${s.readonly ? ',readonly=on' : ''}`);
  }
  a.push('-device', `virtio-balloon-pci,${BALLOON_OPTIONS}`);
  a.push(...controlArgs(o));
  return a;
}

/** The QMP socket and an incoming migration, the same on every machine type. */
export function controlArgs(o: Pick<QemuInput, 'qmpSocket' | 'incoming'>): string[] {
  const a: string[] = [];
  if (o.qmpSocket) a.push('-qmp', `unix:${o.qmpSocket},server=on,wait=off`);
  if (o.incoming) a.push('-incoming', o.incoming);
  return a;
}

/**
 * Kernel command line: serial console, no reboot loop, TCG's slow timer calibration skipped, and
 * the mitigations of the run's setting (the host's by default: drivers/mitigations.ts).
 */
export function kernelCmdline(accelUsed: Accel, k: GuestKernel, extra: string, mitigations = currentGuestMitigations().args): string {
  const tcg = accelUsed === 'tcg' ? ` lpj=1000000 lapic_timer_period=${Math.round(1e9 / k.hz)} tsc=reliable` : '';
  return `console=ttyS0 quiet panic=-1${mitigations ? ` ${mitigations}` : ''}${tcg} ${extra}`;
}

/** Boot kernel + initramfs only (vb.probe=1 powers off at once); true when it printed VB-PROBE-OK in time. */
async function probeBoot(a: Accel, k: GuestKernel, initramfs: string, timeoutMs: number): Promise<{ ok: boolean; ms: number; tail: string }> {
  const dir = join(KVM_STATE, `.probe-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const consoleFile = join(dir, `console-${a}.log`);
  const t0 = Date.now();
  try {
    const r = await execa('qemu-system-x86_64', qemuArgs({ accel: a, vcpus: 1, memoryBytes: 256 * MiB, kernel: k.image, initramfs, console: consoleFile, append: kernelCmdline(a, k, 'vb.probe=1') }), {
      reject: false,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      all: true,
    });
    const text = existsSync(consoleFile) ? readFileSync(consoleFile, 'utf8') : '';
    const tail = (r.all ?? '').trim().split('\n').filter((l) => !l.includes('warning')).at(-1) ?? '';
    return { ok: text.includes('VB-PROBE-OK'), ms: Date.now() - t0, tail };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The last verdict of probeAccel on this host (a dry run beside a running suite reads it instead of booting). */
const ACCEL_VERDICT = join(CACHE_DIR, 'vm', 'accel-verdict.json');
interface AccelVerdict {
  accel?: Accel;
  reason?: string;
  choice: AccelChoice;
  hostKernel: string;
  at: string;
}

function rememberVerdict(v: { accel?: Accel; reason?: string }, choice: AccelChoice): void {
  try {
    const rec: AccelVerdict = { ...v, choice, hostKernel: release(), at: new Date().toISOString() };
    writeFileSync(ACCEL_VERDICT, `${JSON.stringify(rec)}\n`);
  } catch {
    /* only a hint for later dry runs */
  }
}

/**
 * A probe that may not boot a guest (a dry run beside a running suite; `busy` says so): the last
 * verdict of this host's kernel and accelerator choice stands in, or, without one, /dev/kvm's
 * presence; the line says which.
 */
function verdictWithoutBoot(choice: AccelChoice, busy: string, log: (line: string) => void): { accel?: Accel; reason?: string; ms: number } {
  try {
    const v = JSON.parse(readFileSync(ACCEL_VERDICT, 'utf8')) as AccelVerdict;
    if (v.hostKernel === release() && v.choice === choice) {
      log(`accelerator not probed (${busy}): ${v.accel ?? 'none'} as the probe of ${v.at} found`);
      return { accel: v.accel, reason: v.reason, ms: 0 };
    }
  } catch {
    /* no verdict yet */
  }
  const accel: Accel = choice === 'tcg' || (choice === 'auto' && !existsSync('/dev/kvm')) ? 'tcg' : 'kvm';
  log(`accelerator not probed (${busy}) and none recorded for this kernel: assumed ${accel}${accel === 'kvm' ? ' (/dev/kvm exists; the real run probes it)' : ''}`);
  return { accel, ms: 0 };
}

/** Which accelerator really boots a guest here; "ok: false" with the reason when none may be used. */
export async function probeAccel(log: (line: string) => void = () => undefined, noBoot?: string): Promise<{ accel?: Accel; reason?: string; ms: number }> {
  const choice = accelChoice();
  if (noBoot) return verdictWithoutBoot(choice, noBoot, log);
  const v = await probeAccelBooting(choice, log);
  rememberVerdict(v, choice);
  return v;
}

async function probeAccelBooting(choice: AccelChoice, log: (line: string) => void): Promise<{ accel?: Accel; reason?: string; ms: number }> {
  const t0 = Date.now();
  const { kernel, initramfs } = await ensureBootImages(log);
  let why = '';
  if (choice !== 'tcg') {
    if (!existsSync('/dev/kvm')) why = '/dev/kvm does not exist';
    else {
      const k = await probeBoot('kvm', kernel, initramfs, KVM_PROBE_TIMEOUT_MS);
      if (k.ok) return { accel: 'kvm', ms: Date.now() - t0 };
      why = `a guest kernel did not boot under KVM within ${KVM_PROBE_TIMEOUT_MS / 1000} s${k.tail ? ` (${k.tail})` : ''}`;
    }
    if (choice === 'kvm') return { reason: `KVM is unusable because ${why}`, ms: Date.now() - t0 };
    log(`KVM is unusable because ${why}: falling back to TCG (software emulation, samples tagged accel=tcg)`);
  }
  const t = await probeBoot('tcg', kernel, initramfs, TCG_PROBE_TIMEOUT_MS);
  if (t.ok) return { accel: 'tcg', ms: Date.now() - t0 };
  return { reason: `no guest boots: ${why ? `KVM: ${why}; ` : ''}TCG: not up within ${TCG_PROBE_TIMEOUT_MS / 1000} s${t.tail ? ` (${t.tail})` : ''}`, ms: Date.now() - t0 };
}

const macFor = (name: string) => {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const b = [0x52, 0x54, 0x00, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
};

let tapSeq = 0;

/** One QEMU process of a guest and where its sockets are. */
interface QemuInstance {
  child: ResultPromise;
  dir: string;
  agentSocket: string;
  qmpSocket: string;
  console: string;
  tap?: string;
  /** Why it exited, once it did. */
  exit?: string;
}

/** What a guest starts from instead of a boot: a checkpoint's files, or a running guest to clone. */
type StartFrom = { kind: 'restore'; memory: string; disk: string; firstId: number; sourceName: string } | { kind: 'clone'; source: KvmGuest };

/** The VM guests of this process by platform/name: clone() is handed a wrapped guest and needs the real one. */
const live = new Map<string, KvmGuest>();

/**
 * Raise a guest cgroup's memory limit by `bytes` (a migration's second QEMU); returns the undo.
 * A limit that is already unlimited stays so.
 */
function raiseMemoryLimit(cg: HarnessCgroup, bytes: number): () => void {
  const dir = dirFor(cg.layout, 'memory', cg.rel);
  const file = dir && join(dir, cg.layout.version === 1 ? 'memory.limit_in_bytes' : 'memory.max');
  if (!file || !existsSync(file)) return () => undefined;
  const before = readFileSync(file, 'utf8').trim();
  const n = Number(before);
  if (!Number.isFinite(n) || n > 2 ** 60) return () => undefined;
  writeFileSync(file, String(n + bytes));
  return () => {
    try {
      writeFileSync(file, before);
    } catch {
      /* still above it (the old QEMU's pages not yet uncharged): the cgroup goes with the guest */
    }
  };
}

/**
 * What differs between the VM platforms that share KvmGuest: the machine QEMU emulates and where
 * the root filesystem comes from (the disk given to start() is overlaid per guest either way).
 */
export interface VmMachine {
  platform: string;
  /** What a private image (GuestSpec.image 'private') replaces: the root disk (kvm), or the root directory shared over 9p (lightvm, given to the machine). */
  privateImage: 'disk' | 'root-dir';
  /** Kernel command line words for the initramfs (vb.root=...) and this machine. */
  append(accel: Accel): string;
  qemuArgs(o: QemuInput): string[];
}

/** -M pc booting the ext4 disk image: the study's KVM configuration. */
const PC_MACHINE: VmMachine = { platform: 'kvm', privateImage: 'disk', append: () => 'vb.root=blk', qemuArgs };

/** A private guest's own image in its directory: kvm's full qcow2 copy of the disk, lightvm's copy of the root directory. */
export const privateImagePath = (platform: string, guest: string) => join(STATE_DIR, platform, guest, PRIVATE_IMAGE);
const PRIVATE_IMAGE = 'private-image';

/** A full copy (not a backing-file overlay) of a VM image file or root directory for one guest, renamed into place and written out. */
export async function copyVmImage(source: string, platform: string, guest: string, signal?: AbortSignal): Promise<void> {
  const target = privateImagePath(platform, guest);
  const tmp = `${target}.copying`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(dirname(target), { recursive: true });
  const r = await execa('cp', ['-a', '--sparse=always', '--reflink=never', source, tmp], { reject: false, all: true, cancelSignal: signal });
  if (r.exitCode !== 0) throw new Error(`copy of ${source} for ${guest} failed: ${(r.all ?? '').trim().split('\n').slice(-2).join(' | ')}`);
  await rename(tmp, target);
  // written out now, so that its writeback does not run during the launches that follow
  await execa('sync', ['-f', target]);
}

/** Driver.copyImage of the VM platforms: the copy, its size and time; removed on remove(), with its guest, or by sweepVms. */
export async function vmImageCopy(source: string, platform: string, guest: string, signal?: AbortSignal): Promise<ImageCopy> {
  const dir = dirname(privateImagePath(platform, guest));
  const remove = onCleanup(`${platform} private image of ${guest}`, () => rm(dir, { recursive: true, force: true }));
  const t0 = performance.now();
  try {
    await copyVmImage(source, platform, guest, signal);
  } catch (err) {
    await remove();
    throw err;
  }
  return { bytes: await treeUsageBytes(privateImagePath(platform, guest)), seconds: (performance.now() - t0) / 1000, remove };
}

/** Why a guest died, from its serial console: the kernel's panic line, our init's failure, or the last line. */
export function consoleCause(file: string): string | undefined {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const line = text.match(/Kernel panic - not syncing: .*/)?.[0] ?? text.match(/VB-FAIL: .*/)?.[0] ?? text.trim().split('\n').at(-1);
  return line?.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined;
}

/** Where a VM guest that asked for one mounts its plain disk. */
const PLAIN_DIR = '/var/tmp/virtbench-plain';

export class KvmGuest implements Guest {
  readonly workdir = '/var/tmp/virtbench';
  /** Disk images of the shares given as disks, by share index (Share.asDisk). */
  private shareDisks: (string | undefined)[] = [];
  /** A raw ext4 disk of its own (no qcow2 layer, no backing file) mounted here, when asked for. */
  readonly plainDir?: string;
  readonly environment = GUEST_ENV;
  /** QEMU start to agent ready, seconds (also logged). */
  bootSeconds?: number;
  /** The QEMU now running this guest (after a migration: the destination's). */
  private current?: QemuInstance;
  private qmp?: QmpClient;
  private agent?: AgentConnection;
  private cgroup: HarnessCgroup;
  private tap?: string;
  /** A migration's destination tap, until the migration is over. */
  private pendingTap?: string;
  private addr?: string;
  private undo?: () => Promise<void>;
  private migrations = 0;
  /** The MAC of its network device (a clone or restore tells its guest to take this one). */
  private readonly mac: string;
  readonly dir: string;
  readonly overlay: string;

  constructor(
    readonly spec: GuestSpec,
    readonly accel: Accel,
    private readonly machine: VmMachine = PC_MACHINE,
  ) {
    this.dir = join(STATE_DIR, machine.platform, spec.name);
    this.overlay = join(this.dir, 'root.qcow2');
    if (spec.plainDir) this.plainDir = PLAIN_DIR;
    this.cgroup = new HarnessCgroup(spec.name, undefined, spec.arena);
    this.mac = macFor(spec.name);
  }

  get machineType(): VmMachine {
    return this.machine;
  }

  get name(): string {
    return this.spec.name;
  }

  get platform(): string {
    return this.machine.platform;
  }

  get tapName(): string | undefined {
    return this.tap;
  }

  get qemuPid(): number | undefined {
    return this.current?.child.pid;
  }

  /** The disk QEMU writes the guest's root to: its overlay, or its private image. */
  private get rootDisk(): string {
    return this.spec.image === 'private' && this.machine.privateImage === 'disk' ? this.privateImage : this.overlay;
  }

  private get plainDisk(): string {
    return join(this.dir, 'plain.raw');
  }

  /** Bytes the guest's overlay really occupies on the host. */
  overlayBytes(): number {
    return diskUsageBytes(this.overlay);
  }

  /** Its overlay plus, with a private image, that whole copy. */
  async diskBytes(): Promise<number> {
    const own = this.spec.image === 'private' && existsSync(this.privateImage) ? await treeUsageBytes(this.privateImage) : 0;
    return this.overlayBytes() + own;
  }

  /** The guest's own image (GuestSpec.image 'private'), kept across start()'s clean-up of its directory. */
  get privateImage(): string {
    return join(this.dir, PRIVATE_IMAGE);
  }

  /**
   * Boot the guest on `disk`, or (from) take over a running guest's state instead of booting: a
   * checkpoint (restore) or a running guest (clone), then give it this guest's address.
   */
  async start(disk: string, log: (line: string) => void, signal?: AbortSignal, from?: StartFrom): Promise<void> {
    // more vCPUs than host CPUs is fine (multiplexed); pinning to CPUs the host lacks is not
    const hostCpus = cpus().length;
    const missing = this.spec.cpus.filter((c) => c >= hostCpus);
    if (missing.length) throw new UnavailableError(`guest ${this.name} is to be pinned to CPU ${missing.join(',')} but the host has ${hostCpus} CPUs (0-${hostCpus - 1})`);
    // the harness group and the bridge first, so that their own undo steps run after this guest's
    ensureHarnessGroup();
    const net = this.spec.network ? await ensureBridge() : undefined;
    this.undo = onCleanup(`${this.platform} guest ${this.name}`, () => this.teardown());
    // a fresh directory, but for a private image made before the launch
    const own = this.spec.image === 'private';
    if (own && existsSync(this.dir)) for (const f of readdirSync(this.dir).filter((x) => x !== PRIVATE_IMAGE)) await rm(join(this.dir, f), { recursive: true, force: true });
    else await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
    if (own && !existsSync(this.privateImage)) throw new Error(`guest ${this.name} is to start on a private image, but none was made (${this.privateImage})`);
    // QEMU's memory is the guest's RAM plus its own overhead: limits cover both, like a container's.
    const qemuSpec = { ...this.spec, memoryBytes: this.spec.memoryBytes + QEMU_OVERHEAD_BYTES };
    this.cgroup.create(qemuSpec, memoryCeiling(qemuSpec));
    if (this.plainDir) await createPlainDisk(this.plainDisk);
    live.set(`${this.platform}/${this.name}`, this);
    if (net) {
      this.addr = net.allocate();
      this.tap = await this.addTap(net.bridge);
    }
    if (from) {
      await this.startFrom(from, log, signal);
      return;
    }
    let lastErr: unknown;
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await this.boot(disk, log, signal);
        lastErr = undefined;
        break;
      } catch (err) {
        lastErr = err;
        await this.stopQemu();
        if (signal?.aborted) break;
        if (attempt === 1) log(`guest ${this.name} did not boot (${err instanceof Error ? err.message : String(err)}); retrying once`);
      }
    }
    if (lastErr) {
      if (signal?.aborted || lastErr instanceof UnavailableError) throw lastErr;
      throw new Error(`guest ${this.name} never became ready: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
    }
    // the guest's commands (the agent's cgroup) get the spec's process ceiling, like a container: a
    // fork bomb stays small enough to be killed quickly, even under emulation
    const setup = [`mkdir -p ${this.workdir}`, `echo ${this.spec.pidsMax} > /sys/fs/cgroup/vb/pids.max`];
    if (this.addr) {
      const gw = this.addr.replace(/\.\d+$/, '.1');
      setup.push('ip link set eth0 up', `ip addr add ${this.addr}/24 dev eth0`, `ip route add default via ${gw}`);
    }
    // found by its label, and refused if already mounted (as the root or scratch disk would be, had the devices swapped names)
    if (this.plainDir) setup.push(shellLine`d=$(blkid -L ${PLAIN_LABEL}) && ! grep -q "^$d " /proc/mounts && mkdir -p ${this.plainDir} && mount -o noatime "$d" ${this.plainDir}`);
    this.spec.shares.forEach((s, i) => {
      if (this.shareDisks[i]) {
        setup.push(shellLine`d=$(blkid -L ${shareLabel(i)}) && mkdir -p ${s.guest} && mount -o ro,noatime "$d" ${s.guest}`);
        return;
      }
      const mountOpts = `trans=virtio,version=9p2000.L,msize=262144${s.readonly ? ',ro' : ''}`;
      setup.push(shellLine`mkdir -p ${s.guest} && mount -t 9p -o ${mountOpts} vbshare${i} ${s.guest}`);
    });
    await this.sh(setup.join(' && '), { timeoutMs: 30_000 });
  }

  private async boot(disk: string, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
    // the root disk: an overlay over the shared image, or the guest's own full copy of it
    if (this.rootDisk === this.overlay) {
      await rm(this.overlay, { force: true });
      await createOverlay(disk, this.overlay);
    }
    const t0 = Date.now();
    const inst = await this.spawnQemu(this.dir, this.tap);
    this.current = inst;
    const { agent, guestUptime } = await AgentConnection.connect(inst.agentSocket, {
      timeoutMs: BOOT_TIMEOUT_MS,
      signal,
      dead: () => {
        if (inst.exit) return inst.exit;
        const fail = readFileSync(inst.console, 'utf8').match(/VB-FAIL: .*/)?.[0];
        return fail ? `guest boot failed: ${fail}` : undefined;
      },
    });
    this.agent = agent;
    this.bootSeconds = (Date.now() - t0) / 1000;
    this.qmp = await QmpClient.connect(inst.qmpSocket, { timeoutMs: 30_000, dead: () => inst.exit });
    log(`${this.platform} guest ${this.name} ready in ${this.bootSeconds.toFixed(1)} s (accel ${this.accel}, guest uptime ${guestUptime} s)`);
  }

  /**
   * Start one QEMU of this guest in `dir` (its sockets and console there): the first, a
   * migration's destination, a restore's or a clone's. It joins the guest's cgroups first.
   */
  private async spawnQemu(dir: string, tap: string | undefined, incoming?: string): Promise<QemuInstance> {
    const { kernel, initramfs } = images!;
    // read-only shares asked for as disks (kvm's pc machine: 9p blocks a migration)
    if (this.platform === 'kvm') {
      for (const [i, s] of this.spec.shares.entries()) {
        if (s.asDisk && s.readonly && !this.shareDisks[i]) this.shareDisks[i] = await ensureShareImage(s.host, shareLabel(i), (l) => process.stderr.write(`kvm: ${l}\n`));
      }
    }
    await mkdir(dir, { recursive: true });
    const inst: Omit<QemuInstance, 'child'> = { dir, agentSocket: join(dir, 'agent.sock'), qmpSocket: join(dir, 'qmp.sock'), console: join(dir, 'console.log'), ...(tap ? { tap } : {}) };
    await rm(inst.agentSocket, { force: true });
    await rm(inst.qmpSocket, { force: true });
    await writeFile(inst.console, '');
    const args = this.machine.qemuArgs({
      accel: this.accel,
      vcpus: this.spec.vcpus,
      memoryBytes: this.spec.memoryBytes,
      kernel: kernel.image,
      initramfs,
      console: inst.console,
      append: kernelCmdline(this.accel, kernel, `${this.machine.append(this.accel)} vb.name=${this.name}`),
      disk: this.rootDisk,
      ...(this.plainDir ? { plainDisk: this.plainDisk } : {}),
      agentSocket: inst.agentSocket,
      qmpSocket: inst.qmpSocket,
      ...(incoming ? { incoming } : {}),
      tap: tap ? { ifname: tap, mac: this.mac } : undefined,
      shares: this.spec.shares.map((s, i) => ({ host: s.host, tag: `vbshare${i}`, readonly: s.readonly, ...(this.shareDisks[i] ? { disk: this.shareDisks[i] } : {}) })),
    });
    // join the guest's cgroups first, then become QEMU: every QEMU thread starts inside the limits
    const join_ = this.cgroup.procsFiles().map((f) => shellLine`echo $$ > ${f}`).join(' && ');
    // QEMU stays killable by the OOM killer of its group (or arena) while the harness protects itself
    const child = execa('bash', ['-c', `${join_ || 'true'} && ${resetOomAdjShell()}exec qemu-system-x86_64 "$@"`, 'qemu', ...args], { reject: false, all: true, stdin: 'ignore' });
    const started: QemuInstance = { ...inst, child };
    void child.then((r) => {
      // QEMU says why it failed; a guest that died (kernel panic, -no-reboot) says it on its console
      const said = (r.all ?? '').trim().split('\n').at(-1) || consoleCause(inst.console);
      started.exit = `QEMU exited (${r.exitCode ?? r.signal}): ${said ?? 'the guest stopped before its console came up (too little memory, or a kernel that cannot boot)'}`;
    });
    return started;
  }

  /** A tap on the bridge for one QEMU of this guest, named in the guest's directory so that sweep removes this run's taps and never another run's. */
  private async addTap(bridge: string): Promise<string> {
    const tap = `${TAP_PREFIX}${process.pid % 10000}x${tapSeq++}`.slice(0, 15);
    await appendFile(join(this.dir, 'tap'), `${tap}\n`);
    await execa('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await execa('ip', ['link', 'set', tap, 'master', bridge, 'up']);
    return tap;
  }

  private control(what: string): { qmp: QmpClient; agent: AgentConnection } {
    if (!this.qmp || !this.agent || !this.current) throw new Error(`cannot ${what} guest ${this.name}: it is not running`);
    if (this.current.exit) throw new Error(`cannot ${what} guest ${this.name}: ${this.current.exit}`);
    return { qmp: this.qmp, agent: this.agent };
  }

  /** QEMU sends the guest's gratuitous ARPs (and RARPs) again: the bridge learns where its MAC is. */
  async announce(): Promise<void> {
    await this.qmp?.execute('announce-self', { initial: 50, max: 550, rounds: 5, step: 100 });
  }

  /** QEMU's `stop`: every vCPU halts, the guest's memory and devices are kept. */
  async pause(): Promise<void> {
    const { qmp } = this.control('pause');
    await qmp.execute('stop');
    const st = await qmp.status();
    if (st !== 'paused') throw new Error(`guest ${this.name} did not pause: QEMU says ${st}`);
  }

  async resume(): Promise<void> {
    const { qmp } = this.control('resume');
    await qmp.execute('cont');
    const st = await qmp.status();
    if (st !== 'running') throw new Error(`guest ${this.name} did not resume: QEMU says ${st}`);
  }

  /**
   * The guest's RAM and devices to a file (QEMU's migration stream into `cat`: this QEMU has no
   * file: URI), and its root disk copied beside it while the guest is stopped: `stop` drains and
   * flushes every disk, so the copy is the disk as the saved memory knows it. A copy (rather than
   * a fresh overlay over a frozen one) keeps the checkpoint self-contained: restores and the
   * source never share a writable layer, and removing the source leaves the checkpoint whole.
   */
  async checkpoint(dir: string, opts: { leaveRunning: boolean; signal?: AbortSignal }): Promise<Checkpoint> {
    const { qmp, agent } = this.control('checkpoint');
    if (this.plainDir) throw new Error(`cannot checkpoint guest ${this.name}: its plain disk is not part of a checkpoint (not implemented)`);
    const blocked = await migrationBlocked(qmp);
    if (blocked) throw new Error(`cannot checkpoint guest ${this.name}: QEMU blocks it: ${blocked}`);
    await checkRoom(dir, this.spec.memoryBytes + diskUsageBytes(this.rootDisk));
    const t0 = performance.now();
    const memFile = join(dir, CHECKPOINT_FILES.memory);
    const errFile = join(dir, CHECKPOINT_FILES.log);
    // every frame the host sent is in the guest before its memory is saved
    await agent.hold();
    let stopped = 0;
    let resumed: number | undefined;
    try {
      await qmp.execute('stop');
      stopped = performance.now();
      const cp = await execa('cp', ['--sparse=always', '--reflink=never', this.rootDisk, join(dir, CHECKPOINT_FILES.disk)], { reject: false, all: true });
      if (cp.exitCode !== 0) throw new Error(`copying its disk failed: ${(cp.all ?? '').trim().split('\n').at(-1)}`);
      await runMigration(qmp, `exec:cat > ${quoteSh(memFile)} 2> ${quoteSh(errFile)}`, { timeoutS: 600, signal: opts.signal, failedWhy: () => lastLine(errFile) });
      const seconds = (performance.now() - t0) / 1000;
      if (opts.leaveRunning) {
        await qmp.execute('cont');
        resumed = performance.now();
      }
      const checkpoint: Omit<Checkpoint, 'dir'> = {
        platform: this.platform,
        bytes: await treeUsageBytes(dir),
        seconds,
        frozenS: ((resumed ?? performance.now()) - stopped) / 1000,
        stamp: await checkpointStamp(qmp.version),
      };
      await rm(errFile, { force: true });
      await writeMeta(dir, { checkpoint, source: this.name, vcpus: this.spec.vcpus, memoryBytes: this.spec.memoryBytes, agentFirstId: agent.idWatermark });
      return { dir, ...checkpoint, bytes: await treeUsageBytes(dir) };
    } catch (err) {
      // the source runs on, whatever went wrong
      if (stopped && resumed === undefined) await qmp.execute('cont').catch(() => undefined);
      throw new Error(`checkpoint of guest ${this.name} to ${dir} failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      agent.release();
    }
  }

  /**
   * Live migration to a second QEMU on this host: the destination starts with the same machine,
   * devices and disk file (one host: shared storage), in the same cgroup (the monitors and the
   * watchdog follow it), listening on a Unix socket; the guest runs on while its memory is copied.
   * The destination gets a new tap on the bridge (QEMU 7.2 cannot open a tap the source still
   * holds) and the same MAC, and QEMU announces the guest there when it starts, so the guest's
   * address keeps working. Not done in time: cancelled, the destination killed, the guest runs
   * on at the source. Done: this object drives the destination and the source is gone.
   */
  async migrate(opts: { signal?: AbortSignal; timeoutS: number; maxDowntimeMs?: number }): Promise<MigrationStats> {
    const { qmp, agent } = this.control('migrate');
    const blocked = await migrationBlocked(qmp);
    if (blocked) throw new Error(`cannot migrate guest ${this.name}: QEMU blocks it: ${blocked}`);
    const dir = join(this.dir, `m${++this.migrations}`);
    const incoming = join(dir, 'incoming.sock');
    const net = this.tap ? await ensureBridge() : undefined;
    // two QEMUs in one cgroup while the memory moves: room for both, the old limit after
    const restoreLimit = raiseMemoryLimit(this.cgroup, this.spec.memoryBytes + QEMU_OVERHEAD_BYTES);
    let dest: QemuInstance | undefined;
    let destQmp: QmpClient | undefined;
    let held = false;
    let info;
    let wallS = 0;
    try {
      if (net) this.pendingTap = await this.addTap(net.bridge);
      dest = await this.spawnQemu(dir, this.pendingTap, `unix:${incoming}`);
      const d = dest;
      destQmp = await QmpClient.connect(d.qmpSocket, { timeoutMs: 30_000, dead: () => d.exit });
      if (opts.maxDowntimeMs !== undefined) await qmp.execute('migrate-set-parameters', { 'downtime-limit': Math.max(1, Math.round(opts.maxDowntimeMs)) });
      await agent.hold();
      held = true;
      const t0 = performance.now();
      info = await runMigration(qmp, `unix:${incoming}`, { timeoutS: opts.timeoutS, signal: opts.signal, failedWhy: () => d.exit });
      // the source was running, so the destination starts the guest by itself
      const st = await waitIncomingDone(destQmp, 30_000, () => d.exit);
      if (st !== 'running') await destQmp.execute('cont');
      wallS = (performance.now() - t0) / 1000;
    } catch (err) {
      destQmp?.close();
      if (dest && dest.child.exitCode === null) {
        dest.child.kill('SIGKILL');
        await dest.child.catch(() => undefined);
      }
      if (this.pendingTap) await execa('ip', ['link', 'del', this.pendingTap], { reject: false });
      this.pendingTap = undefined;
      // a migration that got as far as stopping the source: the source goes on
      const st = await qmp.status().catch(() => 'unknown');
      if (st === 'postmigrate' || st === 'paused' || st === 'finish-migrate') await qmp.execute('cont').catch(() => undefined);
      if (held) agent.release();
      restoreLimit();
      throw new Error(`migration of guest ${this.name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    // the destination runs the guest: the host follows it there, then the source goes
    const old = this.current!;
    this.current = dest;
    this.qmp = destQmp;
    const oldTap = this.tap;
    this.tap = this.pendingTap;
    this.pendingTap = undefined;
    const d = dest;
    const moved = agent.moveTo(d.agentSocket, { timeoutMs: 30_000, dead: () => d.exit });
    qmp.close();
    old.child.kill('SIGKILL');
    await old.child.catch(() => undefined);
    try {
      await moved;
    } catch (err) {
      // the guest died at the destination (seen under TCG: a guest kernel oops right after a
      // migration under load); its console says why, and destroy() removes what is left
      const tail = consoleCause(join(d.dir, 'console.log'));
      throw new Error(`guest ${this.name} did not answer at the destination after the migration: ${err instanceof Error ? err.message : String(err)}${tail ? ` (console: ${tail})` : ''}`);
    } finally {
      // the source's tap and files go whatever became of the destination
      if (oldTap) await execa('ip', ['link', 'del', oldTap], { reject: false });
      await rm(old.dir === this.dir ? join(this.dir, 'console.log') : old.dir, { recursive: true, force: true });
      restoreLimit();
    }
    return migrationStats(info, wallS);
  }

  /** Restore (a checkpoint) or clone (a running guest): this guest's QEMU takes over that state instead of booting. */
  private async startFrom(from: StartFrom, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
    const t0 = Date.now();
    let firstId: number;
    let inst: QemuInstance | undefined;
    const dead = () => inst?.exit;
    if (from.kind === 'restore') {
      firstId = from.firstId;
      await execa('cp', ['--sparse=always', '--reflink=never', from.disk, this.overlay]);
      inst = await this.spawnQemu(this.dir, this.tap, `exec:cat ${quoteSh(from.memory)}`);
      this.current = inst;
      this.qmp = await QmpClient.connect(inst.qmpSocket, { timeoutMs: 30_000, dead });
      await waitIncomingDone(this.qmp, 120_000, dead);
    } else {
      const src = from.source;
      const { qmp: srcQmp, agent: srcAgent } = src.control('clone');
      const blocked = await migrationBlocked(srcQmp);
      if (blocked) throw new Error(`cannot clone guest ${src.name}: QEMU blocks it: ${blocked}`);
      firstId = srcAgent.idWatermark;
      const incoming = join(this.dir, 'incoming.sock');
      await srcAgent.hold();
      let stopped = false;
      try {
        await srcQmp.execute('stop');
        stopped = true;
        // the source's disk as its memory knows it, copied while it is stopped (see checkpoint())
        await execa('cp', ['--sparse=always', '--reflink=never', src.rootDisk, this.overlay]);
        inst = await this.spawnQemu(this.dir, this.tap, `unix:${incoming}`);
        this.current = inst;
        this.qmp = await QmpClient.connect(inst.qmpSocket, { timeoutMs: 30_000, dead });
        await runMigration(srcQmp, `unix:${incoming}`, { timeoutS: 300, signal, failedWhy: dead });
      } finally {
        if (stopped) await srcQmp.execute('cont').catch(() => undefined);
        srcAgent.release();
      }
      await waitIncomingDone(this.qmp!, 30_000, dead);
    }
    const qmp = this.qmp!;
    if ((await qmp.status()) !== 'running') await qmp.execute('cont');
    const { agent } = await AgentConnection.connect(this.current!.agentSocket, { timeoutMs: 60_000, signal, dead, firstId });
    this.agent = agent;
    // its own address: the guest's interface takes this guest's MAC (the device's came with the state) and address
    const setup = [shellLine`mkdir -p ${this.workdir}`, shellLine`hostname ${this.name}`];
    if (this.addr) {
      const gw = this.addr.replace(/\.\d+$/, '.1');
      setup.push(shellLine`ip link set eth0 address ${this.mac}`, 'ip addr flush dev eth0', shellLine`ip addr add ${this.addr}/24 dev eth0`, 'ip link set eth0 up', shellLine`ip route replace default via ${gw}`);
    }
    await this.sh(setup.join(' && '), { timeoutMs: 30_000 });
    // the copy's QEMU announced the source's MAC on this guest's tap as it started: the source, if
    // it runs, announces itself again so that the bridge sends its frames back to it
    const source = from.kind === 'clone' ? from.source : live.get(`${this.platform}/${from.sourceName}`);
    if (this.addr && source && source !== this) await source.announce().catch(() => undefined);
    this.bootSeconds = (Date.now() - t0) / 1000;
    log(`${this.platform} guest ${this.name} ${from.kind === 'restore' ? 'restored' : `cloned from ${from.source.name}`} and ready in ${this.bootSeconds.toFixed(1)} s`);
  }

  private run(script: string, opts: Omit<ExecOptions, 'check'>, stdin?: Buffer | string | NodeJS.ReadableStream): { pid: () => number | undefined; done: Promise<ExecResult>; kill: (s?: NodeJS.Signals) => void } {
    const agent = this.agent;
    if (!agent) throw new Error(`guest ${this.name} is not running`);
    const t0 = Date.now();
    const input = stdin ?? opts.input;
    const cmd = agent.exec(withContext(script, { ...opts, env: { ...GUEST_ENV, ...opts.env } }), {
      stdin: input as Buffer | string | undefined,
    });
    let timedOut = false;
    let given: NodeJS.Timeout | undefined;
    let giveUp: () => void = () => undefined;
    // a killed command whose exit the guest does not report (its output pipes held by processes
    // outside its cgroup, as in a nested container, or a guest swamped by a fork bomb) is given up
    // on after a grace: a timeout or Ctrl-C must not wait for the guest
    const abandoned = new Promise<ExecResult>((resolve) => {
      giveUp = () => resolve({ exitCode: 124, stdout: '', stderr: `no exit reported by guest ${this.name} within ${KILL_GRACE_MS / 1000} s of SIGKILL`, durationMs: Date.now() - t0, timedOut: true });
    });
    const stop = () => {
      timedOut = true;
      cmd.kill('SIGKILL');
      given ??= setTimeout(giveUp, KILL_GRACE_MS);
    };
    const timer = opts.timeoutMs ? setTimeout(stop, opts.timeoutMs) : undefined;
    opts.signal?.addEventListener('abort', stop, { once: true });
    if (opts.signal?.aborted) stop();
    const exited = cmd.done.then((r) => ({ exitCode: timedOut ? 124 : r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString(), durationMs: Date.now() - t0, timedOut }));
    const done = Promise.race([exited, abandoned]).finally(() => {
      if (timer) clearTimeout(timer);
      if (given) clearTimeout(given);
      opts.signal?.removeEventListener('abort', stop);
    });
    return { pid: () => cmd.pid, done, kill: (s: NodeJS.Signals = 'SIGTERM') => cmd.kill(s) };
  }

  async sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.run(script, opts).done;
    if ((opts.check ?? true) && (r.exitCode !== 0 || r.timedOut)) throw new GuestCommandError(this.name, r, script);
    return r;
  }

  spawn(script: string, opts: Omit<ExecOptions, 'check'> = {}): GuestProcess {
    const c = this.run(script, opts);
    return {
      get pid() {
        return c.pid();
      },
      done: c.done,
      kill: c.kill,
    };
  }

  async pushFile(hostPath: string, guestPath: string): Promise<void> {
    const isDir = (await execa('test', ['-d', hostPath], { reject: false })).exitCode === 0;
    if (isDir) {
      const tar = execa('tar', ['-C', hostPath, '-cf', '-', '.'], { encoding: 'buffer' });
      const body = Buffer.from((await tar).stdout as unknown as Uint8Array);
      const t = await this.run(shellLine`mkdir -p ${guestPath} && tar -C ${guestPath} -xf -`, {}, body).done;
      if (t.exitCode !== 0) throw new GuestCommandError(this.name, t, `push ${guestPath}`);
      return;
    }
    const r = await this.run(shellLine`mkdir -p ${dirname(guestPath)} && cat > ${guestPath}`, {}, createReadStream(hostPath)).done;
    if (r.exitCode !== 0) throw new GuestCommandError(this.name, r, `push ${guestPath}`);
  }

  async pullFile(guestPath: string, hostPath: string): Promise<void> {
    const agent = this.agent;
    if (!agent) throw new Error(`guest ${this.name} is not running`);
    const isDir = (await this.sh(shellLine`[ -d ${guestPath} ]`, { check: false })).exitCode === 0;
    const r = await agent.exec(isDir ? shellLine`tar -C ${guestPath} -cf - .` : shellLine`cat ${guestPath}`).done;
    if (r.exitCode !== 0) throw new Error(`pull ${guestPath} from ${this.name}: ${r.stderr.toString().trim()}`);
    await mkdir(isDir ? hostPath : dirname(hostPath), { recursive: true });
    if (isDir) await execa('tar', ['-C', hostPath, '-xf', '-'], { input: r.stdout });
    else await writeFile(hostPath, r.stdout);
  }

  address(): string | undefined {
    return this.addr;
  }

  /** What the VM costs the host: its QEMU process's cgroup. */
  async usage() {
    return this.cgroup.usage();
  }

  /** QEMU's group: the monitors see the VM from outside (vCPU threads' pressure, its memory and I/O). */
  cgroupPaths() {
    return this.cgroup.paths();
  }

  async killAll(): Promise<void> {
    await this.agent?.killAll();
  }

  /** OOM kills in QEMU's group on the host (the VM itself killed) plus the guest kernel's own (its /proc/vmstat). */
  async oomKills(): Promise<number> {
    return this.cgroup.oomKills() + ((await this.guestOomKills()) ?? 0);
  }

  /** The guest kernel's OOM kills since it booted, or undefined when the guest does not answer. */
  async guestOomKills(): Promise<number | undefined> {
    if (!this.agent) return undefined;
    try {
      const r = await this.sh(`sed -n 's/^oom_kill //p' /proc/vmstat`, { timeoutMs: 10_000, check: false });
      const n = Number(r.stdout.trim());
      return r.exitCode === 0 && r.stdout.trim() !== '' && Number.isFinite(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** OOM kills of QEMU's group on the host only. */
  hostOomKills(): number {
    return this.cgroup.oomKills();
  }

  /** From outside the VM: kill QEMU (its harness cgroup), and with it everything in the guest. */
  watchdogScript(): string {
    return killCgroupScript(this.cgroup.layout, this.cgroup.rel);
  }

  private async stopQemu(): Promise<void> {
    this.agent?.close();
    this.agent = undefined;
    this.qmp?.close();
    this.qmp = undefined;
    const child = this.current?.child;
    this.current = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await child.catch(() => undefined);
    }
  }

  private async teardown(): Promise<void> {
    live.delete(`${this.platform}/${this.name}`);
    await this.stopQemu();
    // and any other QEMU of this guest (a migration's destination): they share its cgroup
    await this.cgroup.destroy();
    for (const tap of [this.tap, this.pendingTap]) if (tap) await execa('ip', ['link', 'del', tap], { reject: false });
    await rm(this.dir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    await this.undo?.();
  }
}

let disk: string | undefined;

/** Emulation is 10-50x slower: TCG stands in for KVM only at the smoke profile unless asked for explicitly. */
function tcgRefused(found: Accel | undefined, profile?: ProfileName): string | undefined {
  if (found !== 'tcg' || !profile || profile === 'smoke' || accelChoice() === 'tcg') return undefined;
  return `KVM cannot boot a guest on this host and TCG is only used at the smoke profile (--accel tcg, or VIRTBENCH_ACCEL=tcg, forces it at ${profile})`;
}

/** Kill the QEMU processes and remove the guest directories, taps and bridge a crashed run of a VM platform left. */
export async function sweepVms(platform: string): Promise<string[]> {
  const stateDir = join(STATE_DIR, platform);
  const found: string[] = [];
  if (existsSync(stateDir)) {
    for (const name of readdirSync(stateDir)) {
      // a leftover QEMU still has its console file open: find it by its state directory
      const dir = join(stateDir, name);
      const ps = await execa('pgrep', ['-f', `${dir}/`], { reject: false });
      for (const pid of ps.stdout.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      // one tap per QEMU the guest had (migrations add one each)
      const taps = existsSync(join(dir, 'tap')) ? readFileSync(join(dir, 'tap'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : [];
      for (const tap of taps) if ((await execa('ip', ['link', 'del', tap], { reject: false })).exitCode === 0) found.push(`tap ${tap}`);
      await rm(dir, { recursive: true, force: true });
      found.push(`${platform} guest ${name}`);
    }
  }
  // a tap whose guest directory is gone (a source's tap lost in a failed migration): every tap of
  // ours is a leftover here, as sweeps run under the host lock
  const links = await execa('ip', ['-o', 'link', 'show'], { reject: false });
  for (const m of links.stdout.matchAll(new RegExp(`^\\d+: (${TAP_PREFIX}[^:@]*)`, 'gm'))) {
    if ((await execa('ip', ['link', 'del', m[1]!], { reject: false })).exitCode === 0) found.push(`tap ${m[1]}`);
  }
  found.push(...(await sweepBridge()));
  return found;
}

const kvm: Driver = {
  name: 'kvm',
  description: 'QEMU virtual machines (KVM, or TCG where KVM cannot boot a guest) on qcow2 overlays of a cached Debian disk image',
  // QEMU's threads are pinned as a group by its cgroup's cpuset
  cpuPolicies: ['cpuset', 'shares', 'quota'],
  // qemu-img (qemu-utils), the initramfs's busybox, the rootfs (debootstrap), taps (iproute2), the
  // guest kernel's modules.dep (kmod: depmod), its decompressed modules (xz-utils, zstd), the disk
  // images (e2fsprogs: mke2fs), leftover QEMUs after a crash (procps: pgrep)
  hostPackages: ['qemu-system-x86', 'qemu-utils', 'busybox-static', 'debootstrap', 'iproute2', 'kmod', 'xz-utils', 'zstd', 'e2fsprogs', 'procps'],
  async probe(profile?: ProfileName, opts?: ProbeOptions) {
    if (!isRoot()) return { ok: false, reason: 'kvm needs root (taps on the harness bridge, cgroups); run as root' };
    if ((await execa('qemu-system-x86_64', ['--version'], { reject: false })).exitCode !== 0) return { ok: false, reason: 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' };
    let found = accel;
    if (!found) {
      try {
        const p = await probeAccel((l) => process.stderr.write(`kvm: ${l}\n`), opts?.noBoot);
        if (!p.accel) return { ok: false, reason: p.reason };
        found = p.accel;
        // a verdict without a boot is only this probe's answer, never the driver's accelerator
        if (!opts?.noBoot) accel = found;
      } catch (err) {
        return { ok: false, reason: err instanceof Error ? err.message : String(err) };
      }
    }
    const why = tcgRefused(found, profile);
    return why ? { ok: false, reason: why } : { ok: true, accel: found };
  },
  async prepare(ctx: PrepareContext) {
    if (!accel) {
      const p = await probeAccel(ctx.log);
      if (!p.accel) throw new UnavailableError(p.reason ?? 'no accelerator boots a guest');
      accel = p.accel;
    }
    const why = tcgRefused(accel, ctx.profile.name);
    if (why) throw new UnavailableError(why);
    await ensureBootImages(ctx.log);
    disk = await ensureDiskImage(await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log), ctx.log);
    preparedFor.add('kvm');
  },
  async provision(spec: GuestSpec, ctx: RunContext) {
    if (!disk || !accel) throw new Error('kvm driver used before prepare()');
    const guest = new KvmGuest(spec, accel);
    try {
      // private: its own full copy of the disk (made by copyImage before the launch, else now)
      if (spec.image === 'private' && !existsSync(privateImagePath('kvm', spec.name))) await copyVmImage(disk, 'kvm', spec.name, ctx.signal);
      await guest.start(disk, ctx.log, ctx.signal);
    } catch (err) {
      await guest.destroy();
      throw err;
    }
    return guest;
  },
  async copyImage(spec: GuestSpec, ctx: RunContext) {
    if (!disk) throw new Error('kvm driver used before prepare()');
    return vmImageCopy(disk, 'kvm', spec.name, ctx.signal);
  },
  async imageCopyTarget(guestPackages: string[]) {
    const file = diskImagePath(rootfsPath(recipeFor(guestPackages)));
    return { dir: KVM_STATE, ...(existsSync(file) ? { bytes: diskUsageBytes(file) } : {}) };
  },
  sweep: () => sweepVms('kvm'),
  capabilities: (profile?: ProfileName) => vmCapabilities(kvm, profile, KVM_HOW),
  async restore(spec: GuestSpec, checkpoint: Checkpoint, ctx: RunContext) {
    if (!disk || !accel) throw new Error('kvm driver used before prepare()');
    return restoreVm(spec, checkpoint, ctx, new KvmGuest(spec, accel), disk);
  },
  clone: (source: Guest, spec: GuestSpec, ctx: RunContext) => cloneVm('kvm', source, spec, ctx),
};

const KVM_HOW = {
  pause: 'QMP stop/cont',
  checkpoint: 'QEMU migration stream to a file (exec:cat) and a copy of the qcow2 overlay while stopped; restore with -incoming',
  migrate: 'QEMU live migration to a second QEMU on this host over a Unix socket, same disk file, new tap',
  clone: 'source stopped, its overlay copied, its state migrated over a Unix socket into a new QEMU; new MAC and address set through the agent',
};

/** Capabilities per platform, probed once per process (a probe guest boots: ~10-30 s under TCG). */
const probed = new Map<string, Promise<Capabilities>>();

/** A VM platform's capabilities: its accelerator first (none: nothing works, and why), then the probe guest. */
export function vmCapabilities(driver: Driver, profile: ProfileName | undefined, how: Partial<Record<keyof Capabilities, string>>): Promise<Capabilities> {
  let p = probed.get(driver.name);
  if (!p) {
    p = (async () => {
      const log = (l: string) => process.stderr.write(`${driver.name}: ${l}\n`);
      const pr = await driver.probe(profile);
      if (!pr.ok) {
        const no = { ok: false, reason: pr.reason ?? `${driver.name} cannot run here` };
        return { pause: no, checkpoint: no, migrate: no, clone: no };
      }
      // the probe guest boots the prepared image, or the base image when nothing was prepared yet
      if (!preparedFor.has(driver.name)) await driver.prepare?.({ profile: PROFILES[profile ?? 'smoke'], cacheDir: CACHE_DIR, guestPackages: [], log });
      const tag = accel === 'tcg' ? ', TCG' : '';
      const withAccel = Object.fromEntries(Object.entries(how).map(([k, v]) => [k, `${v}${tag}`]));
      return probeVmCapabilities(driver, profile, log, withAccel);
    })();
    probed.set(driver.name, p);
  }
  return p;
}

/** Drivers whose prepare() ran in this process (their images are built). */
export const preparedFor = new Set<string>();

let qemuVersionText: string | undefined;
async function qemuVersion(): Promise<string> {
  qemuVersionText ??= (await execa('qemu-system-x86_64', ['--version'])).stdout.match(/version (\d+\.\d+\.\d+)/)?.[1] ?? 'unknown';
  return qemuVersionText;
}

/** Driver.restore of the VM platforms: the checkpoint checked (complete, same stamp, same size), then `guest` started from it. */
export async function restoreVm(spec: GuestSpec, checkpoint: Checkpoint, ctx: RunContext, guest: KvmGuest, disk: string): Promise<Guest> {
  const meta: VmCheckpointMeta = await readMeta(checkpoint.dir);
  if (meta.checkpoint.platform !== guest.platform) throw new Error(`checkpoint ${checkpoint.dir} is of platform ${meta.checkpoint.platform}, not ${guest.platform}`);
  const why = stampMismatch(meta.checkpoint.stamp, await checkpointStamp(await qemuVersion()));
  if (why) throw new Error(`cannot restore ${checkpoint.dir}: ${why}`);
  if (spec.vcpus !== meta.vcpus || spec.memoryBytes !== meta.memoryBytes) {
    throw new Error(`cannot restore ${checkpoint.dir}: it holds a ${meta.vcpus}-vCPU ${meta.memoryBytes / MiB} MiB guest, ${spec.name} is to have ${spec.vcpus} vCPUs and ${spec.memoryBytes / MiB} MiB`);
  }
  if (spec.image === 'private' || spec.plainDir) throw new Error(`cannot restore ${checkpoint.dir} as ${spec.name}: a restored guest runs on its copy of the checkpoint's disk (no private image, no plain disk)`);
  try {
    await guest.start(disk, ctx.log, ctx.signal, { kind: 'restore', memory: join(checkpoint.dir, CHECKPOINT_FILES.memory), disk: join(checkpoint.dir, CHECKPOINT_FILES.disk), firstId: meta.agentFirstId, sourceName: meta.source });
  } catch (err) {
    await guest.destroy();
    throw err;
  }
  return guest;
}

/** Driver.clone of the VM platforms: the real guest behind `source` (the runner hands a wrapper) cloned into a new guest named by spec. */
export async function cloneVm(platform: string, source: Guest, spec: GuestSpec, ctx: RunContext): Promise<Guest> {
  const src = live.get(`${platform}/${source.name}`);
  if (!src) throw new Error(`${platform} cannot clone ${source.name}: it is not a running ${platform} guest of this process`);
  if (spec.vcpus !== src.spec.vcpus || spec.memoryBytes !== src.spec.memoryBytes) throw new Error(`cannot clone ${source.name} as ${spec.name}: a clone has its source's size (${src.spec.vcpus} vCPUs, ${src.spec.memoryBytes / MiB} MiB)`);
  if (spec.image === 'private' || spec.plainDir) throw new Error(`cannot clone ${source.name} as ${spec.name}: a clone runs on its copy of the source's disk (no private image, no plain disk)`);
  const guest = new KvmGuest(spec, src.accel, src.machineType);
  try {
    await guest.start('', ctx.log, ctx.signal, { kind: 'clone', source: src });
  } catch (err) {
    await guest.destroy();
    throw err;
  }
  return guest;
}

export default kvm;
