// KVM: full virtual machines under QEMU. Debian's generic kernel boots directly (no firmware,
// no bootloader) with our initramfs, the root is a qcow2 copy-on-write overlay of the cached disk
// image (with a private image: the guest's own full copy of that qcow2, no backing file), commands go through the guest agent over virtio-serial (drivers/vm-agent.ts). The QEMU
// process lives in the guest's harness cgroup, so pinning and limits are the other platforms'.
// Where KVM cannot boot a guest (e.g. a paravirtual host KVM), TCG is used when allowed and the
// samples say accel=tcg.
import { execa, type ResultPromise } from 'execa';
import { createReadStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { UnavailableError } from '../core/errors.ts';
import { STATE_DIR, isRoot, memoryCeiling } from '../core/host.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Accel, Driver, ExecOptions, ExecResult, Guest, GuestProcess, GuestSpec, ImageCopy, PrepareContext, ProfileName, RunContext } from '../core/types.ts';
import { ensureBridge, sweepBridge } from './bridge.ts';
import { HarnessCgroup, ensureHarnessGroup, killCgroupScript } from './cgroups.ts';
import { resetOomAdjShell } from './oom-guard.ts';
import { GUEST_ENV, GuestCommandError, withContext } from './guest-process.ts';
import { ensureRootfs, recipeFor, rootfsPath } from './rootfs.ts';
import { treeUsageBytes } from './disk-usage.ts';
import { currentGuestMitigations } from './mitigations.ts';
import { AgentConnection } from './vm-agent.ts';
import { PLAIN_LABEL, createOverlay, createPlainDisk, diskImagePath, diskUsageBytes, ensureDiskImage, ensureInitramfs, ensureKernel, type GuestKernel } from './vm-image.ts';

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
  tap?: { ifname: string; mac: string };
  shares?: { host: string; tag: string; readonly: boolean }[];
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
  const a = ['-M', 'pc', '-accel', o.accel === 'kvm' ? 'kvm' : 'tcg', '-cpu', o.accel === 'kvm' ? 'host' : 'max'];
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
    a.push('-virtfs', `local,path=${s.host},mount_tag=${s.tag},security_model=passthrough${s.readonly ? ',readonly=on' : ''}`);
  }
  a.push('-device', `virtio-balloon-pci,${BALLOON_OPTIONS}`);
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

/** Which accelerator really boots a guest here; "ok: false" with the reason when none may be used. */
export async function probeAccel(log: (line: string) => void = () => undefined): Promise<{ accel?: Accel; reason?: string; ms: number }> {
  const t0 = Date.now();
  const choice = accelChoice();
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
  /** A raw ext4 disk of its own (no qcow2 layer, no backing file) mounted here, when asked for. */
  readonly plainDir?: string;
  readonly environment = GUEST_ENV;
  /** QEMU start to agent ready, seconds (also logged). */
  bootSeconds?: number;
  private qemu?: ResultPromise;
  private qemuExit?: string;
  private agent?: AgentConnection;
  private cgroup: HarnessCgroup;
  private tap?: string;
  private addr?: string;
  private undo?: () => Promise<void>;
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
    return this.qemu?.pid;
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

  async start(disk: string, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
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
    if (net) {
      this.addr = net.allocate();
      this.tap = `${TAP_PREFIX}${process.pid % 10000}x${tapSeq++}`.slice(0, 15);
      // named in the guest's directory, so that sweep removes this run's taps and never another run's
      await writeFile(join(this.dir, 'tap'), this.tap);
      await execa('ip', ['tuntap', 'add', 'dev', this.tap, 'mode', 'tap']);
      await execa('ip', ['link', 'set', this.tap, 'master', net.bridge, 'up']);
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
      const mountOpts = `trans=virtio,version=9p2000.L,msize=262144${s.readonly ? ',ro' : ''}`;
      setup.push(shellLine`mkdir -p ${s.guest} && mount -t 9p -o ${mountOpts} vbshare${i} ${s.guest}`);
    });
    await this.sh(setup.join(' && '), { timeoutMs: 30_000 });
  }

  private async boot(disk: string, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
    const { kernel, initramfs } = images!;
    // the root disk: an overlay over the shared image, or the guest's own full copy of it
    const ownDisk = this.spec.image === 'private' && this.machine.privateImage === 'disk';
    if (!ownDisk) {
      await rm(this.overlay, { force: true });
      await createOverlay(disk, this.overlay);
    }
    const consoleFile = join(this.dir, 'console.log');
    const sock = join(this.dir, 'agent.sock');
    await rm(sock, { force: true });
    await writeFile(consoleFile, '');
    const args = this.machine.qemuArgs({
      accel: this.accel,
      vcpus: this.spec.vcpus,
      memoryBytes: this.spec.memoryBytes,
      kernel: kernel.image,
      initramfs,
      console: consoleFile,
      append: kernelCmdline(this.accel, kernel, `${this.machine.append(this.accel)} vb.name=${this.name}`),
      disk: ownDisk ? this.privateImage : this.overlay,
      ...(this.plainDir ? { plainDisk: this.plainDisk } : {}),
      agentSocket: sock,
      tap: this.tap ? { ifname: this.tap, mac: macFor(this.name) } : undefined,
      shares: this.spec.shares.map((s, i) => ({ host: s.host, tag: `vbshare${i}`, readonly: s.readonly })),
    });
    // join the guest's cgroups first, then become QEMU: every QEMU thread starts inside the limits
    const join_ = this.cgroup.procsFiles().map((f) => shellLine`echo $$ > ${f}`).join(' && ');
    const t0 = Date.now();
    this.qemuExit = undefined;
    // QEMU stays killable by the OOM killer of its group (or arena) while the harness protects itself
    const child = execa('bash', ['-c', `${join_ || 'true'} && ${resetOomAdjShell()}exec qemu-system-x86_64 "$@"`, 'qemu', ...args], { reject: false, all: true, stdin: 'ignore' });
    this.qemu = child;
    void child.then((r) => {
      if (this.qemu !== child) return;
      // QEMU says why it failed; a guest that died (kernel panic, -no-reboot) says it on its console
      const said = (r.all ?? '').trim().split('\n').at(-1) || consoleCause(consoleFile);
      this.qemuExit = `QEMU exited (${r.exitCode ?? r.signal}): ${said ?? 'the guest stopped before its console came up (too little memory, or a kernel that cannot boot)'}`;
    });
    const { agent, guestUptime } = await AgentConnection.connect(sock, {
      timeoutMs: BOOT_TIMEOUT_MS,
      signal,
      dead: () => {
        if (this.qemuExit) return this.qemuExit;
        const fail = readFileSync(consoleFile, 'utf8').match(/VB-FAIL: .*/)?.[0];
        return fail ? `guest boot failed: ${fail}` : undefined;
      },
    });
    this.agent = agent;
    this.bootSeconds = (Date.now() - t0) / 1000;
    log(`${this.platform} guest ${this.name} ready in ${this.bootSeconds.toFixed(1)} s (accel ${this.accel}, guest uptime ${guestUptime} s)`);
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
    const child = this.qemu;
    this.qemu = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await child.catch(() => undefined);
    }
  }

  private async teardown(): Promise<void> {
    await this.stopQemu();
    await this.cgroup.destroy();
    if (this.tap) await execa('ip', ['link', 'del', this.tap], { reject: false });
    await rm(this.dir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    await this.undo?.();
  }
}

let disk: string | undefined;

/** Emulation is 10-50x slower: TCG stands in for KVM only at the smoke profile unless asked for explicitly. */
function tcgRefused(profile?: ProfileName): string | undefined {
  if (accel !== 'tcg' || !profile || profile === 'smoke' || accelChoice() === 'tcg') return undefined;
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
      const tap = existsSync(join(dir, 'tap')) ? readFileSync(join(dir, 'tap'), 'utf8').trim() : '';
      if (tap && (await execa('ip', ['link', 'del', tap], { reject: false })).exitCode === 0) found.push(`tap ${tap}`);
      await rm(dir, { recursive: true, force: true });
      found.push(`${platform} guest ${name}`);
    }
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
  async probe(profile?: ProfileName) {
    if (!isRoot()) return { ok: false, reason: 'kvm needs root (taps on the harness bridge, cgroups); run as root' };
    if ((await execa('qemu-system-x86_64', ['--version'], { reject: false })).exitCode !== 0) return { ok: false, reason: 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' };
    if (!accel) {
      try {
        const p = await probeAccel((l) => process.stderr.write(`kvm: ${l}\n`));
        if (!p.accel) return { ok: false, reason: p.reason };
        accel = p.accel;
      } catch (err) {
        return { ok: false, reason: err instanceof Error ? err.message : String(err) };
      }
    }
    const why = tcgRefused(profile);
    return why ? { ok: false, reason: why } : { ok: true, accel };
  },
  async prepare(ctx: PrepareContext) {
    if (!accel) {
      const p = await probeAccel(ctx.log);
      if (!p.accel) throw new UnavailableError(p.reason ?? 'no accelerator boots a guest');
      accel = p.accel;
    }
    const why = tcgRefused(ctx.profile.name);
    if (why) throw new UnavailableError(why);
    await ensureBootImages(ctx.log);
    disk = await ensureDiskImage(await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log), ctx.log);
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
};

export default kvm;
