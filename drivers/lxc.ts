// LXC: real containers with the lxc-* tools. Each guest is an overlay over the cached Debian root
// filesystem (copy-on-write: a new guest costs an empty upper directory), or with a private image
// its own full copy of that directory, in a container path of the harness's own so that the host's
// containers are never touched. Limits are the same cgroup files bare metal uses, written as
// lxc.cgroup[2].* keys. Pause is the kernel's freezer on the container's group; checkpoint,
// restore, migration and clones are CRIU through lxc-checkpoint, offered only where the CRIU probe
// passes (drivers/criu.ts; not on the development hosts, whose CRIU 3.17 fails on Linux 6.18).
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from '../core/cleanup.ts';
import { UnavailableError, errorMessage } from '../core/errors.ts';
import { STATE_DIR, gitCommit, isRoot, memoryCeiling } from '../core/host.ts';
import type { Capabilities, Capability, Checkpoint, Driver, ExecOptions, Guest, GuestSpec, ImageCopy, MigrationStats, PrepareContext, RunContext } from '../core/types.ts';
import { ensureBridge, sweepBridge } from './bridge.ts';
import { CRIU_TIMEOUT_MS, criuError, criuVerdict, sweepCriuProbe } from './criu.ts';
import { freeze, freezerOf, isFrozen, thaw, type Freezer } from './freezer.ts';
import { freezerHow, freezerVerdict } from './freezer-probe.ts';
import { checkpointParts, lxcCheckpointArgs, readCheckpointMeta, readdressScript, stampMismatch, stampNow, type LxcCheckpointMeta } from './lxc-criu.ts';
import { HARNESS_GROUP, allCgroupMounts, cgroupLayout, cgroupOf, cgroupPathsOfPid, cgroupPids, cgroupUsage, ensureHarnessGroup, guestGroupRel, killCgroup, removeEverywhere, killCgroupScript, oomKillsOf, settingsFor } from './cgroups.ts';
import { unprotected } from './oom-guard.ts';
import { GUEST_ENV, runInGuest, spawnInGuest, withContext, type Launch } from './guest-process.ts';
import { ensureRootfs, recipeFor, rootfsPath } from './rootfs.ts';
import { treeUsageBytes } from './disk-usage.ts';

export const LXC_PATH = join(STATE_DIR, 'lxc');
/** Where a container that asked for one sees its plain directory (GuestSpec.plainDir). */
export const PLAIN_DIR = '/var/tmp/virtbench-plain';
const START_TIMEOUT_MS = 30_000;

let rootfs: string | undefined;

/** The container's config file; pure so that tests can read exactly what LXC is told. */
export function lxcConfig(o: {
  spec: GuestSpec;
  rootfs: string;
  /** The overlay's upper directory over the shared rootfs; absent: `rootfs` is the guest's own (private) directory. */
  upper?: string;
  cgroupVersion: 1 | 2;
  ceilingBytes: number;
  availableFiles?: (controller: string, file: string) => boolean;
  net?: { bridge: string; address: string; gateway: string };
}): string {
  const key = o.cgroupVersion === 1 ? 'lxc.cgroup' : 'lxc.cgroup2';
  const lines = [
    'lxc.include = /usr/share/lxc/config/common.conf',
    'lxc.arch = x86_64',
    `lxc.uts.name = ${o.spec.name}`,
    o.upper ? `lxc.rootfs.path = overlay:${o.rootfs}:${o.upper}` : `lxc.rootfs.path = dir:${o.rootfs}`,
    // tini reaps orphans (a fork bomb leaves many) and keeps the container alive between commands.
    'lxc.init.cmd = /usr/bin/tini -s -- /bin/sleep infinity',
    'lxc.apparmor.profile = unconfined',
  ];
  if (o.spec.arena) {
    // the container's group under the arena (paths from the cgroup root: LXC as root escapes to
    // it); its monitor outside the arena, so that the arena's OOM killer never picks it
    lines.push(`lxc.cgroup.dir.container = ${guestGroupRel(o.spec.name, o.spec.arena)}`, `lxc.cgroup.dir.monitor = ${guestGroupRel(`lxcmon-${o.spec.name}`)}`);
  }
  for (const s of settingsFor(o.spec, o.cgroupVersion, o.ceilingBytes)) {
    if (o.availableFiles && !o.availableFiles(s.controller, s.file)) continue;
    lines.push(`${key}.${s.file} = ${s.value}`);
  }
  for (const sh of o.spec.shares) {
    lines.push(`lxc.mount.entry = ${sh.host} ${sh.guest.replace(/^\//, '')} none bind,${sh.readonly ? 'ro,' : ''}create=dir 0 0`);
  }
  if (o.net) {
    lines.push(
      'lxc.net.0.type = veth',
      `lxc.net.0.link = ${o.net.bridge}`,
      'lxc.net.0.flags = up',
      `lxc.net.0.ipv4.address = ${o.net.address}/24 ${o.net.address.replace(/\.\d+$/, '.255')}`,
      `lxc.net.0.ipv4.gateway = ${o.net.gateway}`,
    );
  } else {
    lines.push('lxc.net.0.type = empty');
  }
  return lines.join('\n') + '\n';
}

/** Whether this kernel offers a cgroup file (checked in the harness group, which is not a root group). */
function cgroupFileExists(controller: string, file: string): boolean {
  const layout = cgroupLayout();
  const mount = layout.mounts[controller];
  return mount !== undefined && existsSync(join(mount, HARNESS_GROUP, file));
}

/** Running guests by name: clone() is handed a proxy of one (core/recording-guest.ts) and needs the instance. */
const live = new Map<string, LxcGuest>();

/** A container started from a checkpoint (lxc-checkpoint -r) instead of lxc-start. */
interface From {
  dir: string;
  meta: LxcCheckpointMeta;
}

/** Bound on one lxc-checkpoint run (a dump of a guest with GBs of memory takes a while). */
const CHECKPOINT_TIMEOUT_MS = Math.max(CRIU_TIMEOUT_MS, 300_000);
/** Pre-dumps before the final dump of a migration, where CRIU tracks dirty memory. */
const PRE_DUMPS = 2;

class LxcGuest implements Guest {
  readonly platform = 'lxc';
  readonly accel = 'native' as const;
  readonly workdir = '/var/tmp/virtbench';
  /** A fresh host directory beside the overlay's upper one (same disk), bind-mounted here. */
  readonly plainDir?: string;
  readonly environment = GUEST_ENV;
  /** lxc-start (or a CRIU restore) to the container answering its first command, seconds (its launch time). */
  bootSeconds?: number;
  private initPid = 0;
  /** init (tini) and its `sleep infinity`: killing either stops the container. */
  private systemPids: number[] = [];
  private cgroupRel = '';
  private freezerFiles?: Freezer;
  private paused = false;
  private addr?: string;
  private gateway?: string;
  /** A private image: its own whole root filesystem instead of an overlay over the shared one. */
  private own = false;
  private undo?: () => Promise<void>;
  private readonly dir: string;

  constructor(readonly spec: GuestSpec) {
    this.dir = join(LXC_PATH, spec.name);
    if (spec.plainDir) this.plainDir = PLAIN_DIR;
  }

  get name(): string {
    return this.spec.name;
  }

  /** lxc-start, or with `from` a CRIU restore of a checkpoint (its disk state copied in first, then readdressed). */
  async start(rootfsDir: string, from?: From): Promise<void> {
    const layout = cgroupLayout();
    ensureHarnessGroup(layout);
    const net = this.spec.network ? await ensureBridge() : undefined;
    this.addr = net?.allocate();
    this.gateway = net?.hostAddress;
    this.own = from ? from.meta.lowerRootfs === undefined : this.spec.image === 'private';
    this.undo = onCleanup(`lxc container ${this.name}`, () => this.teardown());
    live.set(this.name, this);
    if (from) await copyTree(this.own ? checkpointParts(from.dir).rootfs : checkpointParts(from.dir).upper, this.own ? privateRootfs(this.name) : join(this.dir, 'upper'));
    // private: its own full copy of the rootfs (made by copyImage before the launch, else now)
    else if (this.own && !existsSync(privateRootfs(this.name))) await copyRootfs(rootfsDir, this.name);
    else if (!this.own) await mkdir(join(this.dir, 'upper'), { recursive: true });
    const plain = this.plainDir ? join(this.dir, 'plain') : undefined;
    if (plain) await mkdir(plain, { recursive: true });
    const config = lxcConfig({
      spec: plain ? { ...this.spec, shares: [...this.spec.shares, { host: plain, guest: PLAIN_DIR, readonly: false }] } : this.spec,
      rootfs: this.own ? privateRootfs(this.name) : rootfsDir,
      ...(this.own ? {} : { upper: join(this.dir, 'upper') }),
      cgroupVersion: layout.version,
      ceilingBytes: memoryCeiling(this.spec),
      availableFiles: cgroupFileExists,
      net: net && this.addr ? { bridge: net.bridge, address: this.addr, gateway: net.hostAddress } : undefined,
    });
    await writeFile(join(this.dir, 'config'), config);
    const t0 = performance.now();
    if (from) await this.lxcCheckpoint('restore', checkpointParts(from.dir).images);
    else await this.lxcStart();
    await this.attach();
    // CRIU restored the source's network namespace, its address included
    if (from && this.addr && this.gateway && from.meta.address !== this.addr) await this.sh(readdressScript({ address: this.addr, gateway: this.gateway }), { timeoutMs: 10_000 });
    await this.sh(`mkdir -p ${this.workdir}`, { timeoutMs: 10_000 });
    this.bootSeconds = (performance.now() - t0) / 1000;
  }

  private async lxcStart(): Promise<void> {
    const log = join(this.dir, 'lxc.log');
    // the container's init must stay killable by the OOM killer while the harness protects itself
    const start = unprotected('lxc-start', ['-P', LXC_PATH, '-n', this.name, '-d', '-o', log, '-l', 'ERROR']);
    const r = await execa(start.file, start.args, { reject: false, all: true, timeout: START_TIMEOUT_MS });
    if (r.exitCode !== 0) throw new Error(`lxc-start ${this.name} failed: ${(r.all ?? '').trim().split('\n').slice(-2).join(' | ')} (log: ${log})`);
  }

  /** After a start or restore: wait for RUNNING, then find its init, cgroup and freezer. */
  private async attach(): Promise<void> {
    const layout = cgroupLayout();
    const w = await execa('lxc-wait', ['-P', LXC_PATH, '-n', this.name, '-s', 'RUNNING', '-t', '20'], { reject: false });
    if (w.exitCode !== 0) throw new Error(`container ${this.name} did not reach RUNNING within 20 s (log: ${join(this.dir, 'lxc.log')})`);
    const info = await execa('lxc-info', ['-P', LXC_PATH, '-n', this.name, '-p', '-H']);
    this.initPid = Number(info.stdout.trim());
    this.cgroupRel = cgroupOf(this.initPid, 'memory', layout) ?? `lxc.payload.${this.name}`;
    if (this.spec.arena && !this.cgroupRel.startsWith(`${HARNESS_GROUP}/${this.spec.arena}/`)) {
      throw new Error(`container ${this.name} is in cgroup ${this.cgroupRel}, not under its arena ${this.spec.arena}`);
    }
    const freezerRel = layout.version === 1 ? cgroupOf(this.initPid, 'freezer', layout) : this.cgroupRel;
    this.freezerFiles = freezerRel === undefined ? undefined : freezerOf(layout, freezerRel);
    this.systemPids = cgroupPids(layout, this.cgroupRel);
  }

  /**
   * One lxc-checkpoint run (LXC drives CRIU and writes CRIU's log into the images directory); a
   * failure says CRIU's own error line. A dump that fails leaves the container running.
   */
  private async lxcCheckpoint(mode: 'dump' | 'dump-stop' | 'pre-dump' | 'restore', images: string, o: { signal?: AbortSignal; predumpDir?: string; timeoutMs?: number } = {}): Promise<void> {
    await mkdir(images, { recursive: true });
    const log = join(this.dir, 'lxc-checkpoint.log');
    const args = lxcCheckpointArgs({ lxcPath: LXC_PATH, name: this.name, dir: images, mode, log, ...(o.predumpDir ? { predumpDir: o.predumpDir } : {}) });
    const r = await execa('lxc-checkpoint', args, { reject: false, all: true, timeout: o.timeoutMs ?? CHECKPOINT_TIMEOUT_MS, ...(o.signal ? { cancelSignal: o.signal } : {}) });
    if (r.exitCode === 0) return;
    // a dump cut short may leave the container frozen by CRIU: it goes on running
    if (mode !== 'restore' && this.freezerFiles && existsSync(this.freezerFiles.status) && isFrozen(this.freezerFiles) && !this.paused) await thaw(this.freezerFiles).catch(() => undefined);
    const logs = await Promise.all(readdirSync(images).filter((f) => f.endsWith('.log')).map((f) => readFile(join(images, f), 'utf8').catch(() => '')));
    const own = await readFile(log, 'utf8').catch(() => '');
    const why = criuError(logs.join('\n')) ?? criuError(own) ?? criuError(r.all ?? '') ?? `exit ${r.exitCode}`;
    throw new Error(`lxc-checkpoint ${mode} of ${this.name} failed${r.timedOut ? ' (timed out)' : ''}: ${why}`);
  }

  private launch(script: string, opts: ExecOptions): Launch {
    return {
      file: 'lxc-attach',
      args: ['-P', LXC_PATH, '-n', this.name, '--clear-env', ...Object.entries(GUEST_ENV).flatMap(([k, v]) => ['-v', `${k}=${v}`]), '--', 'bash', '-c', withContext(script, opts)],
    };
  }

  sh(script: string, opts: ExecOptions = {}) {
    // a command in a frozen container would only hang until its timeout
    if (this.paused) return Promise.reject(new Error(`lxc guest ${this.name} is paused: resume it before running commands`));
    return runInGuest(this.name, this.launch(script, opts), script, opts, () => this.killAll());
  }

  spawn(script: string, opts: ExecOptions = {}) {
    return spawnInGuest(this.launch(script, opts), opts);
  }

  /** The container's mount namespace seen from the host, through its init process. */
  private hostView(guestPath: string): string {
    return join(`/proc/${this.initPid}/root`, guestPath);
  }

  async pushFile(hostPath: string, guestPath: string): Promise<void> {
    await cp(hostPath, this.hostView(guestPath), { recursive: true });
  }

  async pullFile(guestPath: string, hostPath: string): Promise<void> {
    await cp(this.hostView(guestPath), hostPath, { recursive: true });
  }

  address(): string | undefined {
    return this.addr;
  }

  async usage() {
    return cgroupUsage(cgroupLayout(), this.cgroupRel);
  }

  /** Its directory: the overlay's upper layer (or its whole private rootfs), config and log (a shared rootfs below is not counted). */
  diskBytes(): Promise<number> {
    return treeUsageBytes(this.dir);
  }

  cgroupPaths() {
    return this.initPid ? cgroupPathsOfPid(this.initPid) : undefined;
  }

  private freezer(): Freezer {
    if (!this.freezerFiles) throw new Error(`lxc guest ${this.name} has no freezer cgroup`);
    return this.freezerFiles;
  }

  /** Freeze the container's cgroup and wait until the kernel says every process in it is frozen. */
  async pause(): Promise<void> {
    await freeze(this.freezer());
    this.paused = true;
  }

  async resume(): Promise<void> {
    await thaw(this.freezer());
    this.paused = false;
  }

  /**
   * CRIU through lxc-checkpoint. leaveRunning: frozen first, so that the copy of its writable layer
   * and the dump are of the same moment (CRIU's restore checks the files a process holds); else
   * dumped and stopped, then the layer copied.
   */
  async checkpoint(dir: string, opts: { leaveRunning: boolean; signal?: AbortSignal }): Promise<Checkpoint> {
    const criu = await criuVerdict();
    if (!criu.ok) throw new UnavailableError(`lxc checkpoint: ${criu.reason}`);
    if (this.plainDir) throw new Error(`lxc guest ${this.name} has a plain directory (a bind mount CRIU's images do not hold): not checkpointed`);
    if (this.paused) throw new Error(`lxc guest ${this.name} is paused: resume it before a checkpoint`);
    const parts = checkpointParts(dir);
    const t0 = performance.now();
    let frozenS: number;
    if (opts.leaveRunning) {
      await this.pause();
      try {
        await this.copyFs(parts);
        await this.lxcCheckpoint('dump', parts.images, { signal: opts.signal });
      } finally {
        await this.resume();
      }
      frozenS = (performance.now() - t0) / 1000;
    } else {
      await this.lxcCheckpoint('dump-stop', parts.images, { signal: opts.signal });
      frozenS = (performance.now() - t0) / 1000;
      await this.copyFs(parts);
    }
    const seconds = (performance.now() - t0) / 1000;
    const stamp = await lxcStamp();
    const meta: LxcCheckpointMeta = { source: this.name, spec: this.spec, ...(this.own ? {} : { lowerRootfs: rootfs }), ...(this.addr ? { address: this.addr } : {}), stamp };
    await writeFile(parts.meta, JSON.stringify(meta, null, 2) + '\n');
    return { dir, platform: 'lxc', bytes: await treeUsageBytes(dir), seconds, frozenS, stamp };
  }

  /** Its disk state into a checkpoint: the overlay's upper layer, or a private image's whole rootfs. */
  private async copyFs(parts: ReturnType<typeof checkpointParts>): Promise<void> {
    if (this.own) await copyTree(privateRootfs(this.name), parts.rootfs);
    else await copyTree(join(this.dir, 'upper'), parts.upper);
  }

  /**
   * On the same host under the same name: CRIU pre-dumps while it runs (where CRIU tracks dirty
   * memory), then a final dump that stops it and a restore from the images. A failed dump leaves
   * it running here; a failed restore after a good dump leaves nothing running (cleaned up with the guest).
   */
  async migrate(opts: { signal?: AbortSignal; timeoutS: number; maxDowntimeMs?: number }): Promise<MigrationStats> {
    const criu = await criuVerdict();
    if (!criu.ok) throw new UnavailableError(`lxc migrate: ${criu.reason}`);
    if (this.plainDir) throw new Error(`lxc guest ${this.name} has a plain directory (a bind mount CRIU's images do not hold): not migrated`);
    if (this.paused) throw new Error(`lxc guest ${this.name} is paused: resume it before a migration`);
    const work = join(this.dir, 'migrate');
    await rm(work, { recursive: true, force: true });
    const memoryBytes = (await this.usage()).memoryInUseBytes;
    const t0 = performance.now();
    const left = () => Math.max(1000, opts.timeoutS * 1000 - (performance.now() - t0));
    try {
      let pre: string | undefined;
      const rounds = criu.dirtyTracking ? PRE_DUMPS : 0;
      for (let i = 1; i <= rounds; i++) {
        await this.lxcCheckpoint('pre-dump', join(work, `pre${i}`), { signal: opts.signal, timeoutMs: left(), ...(pre ? { predumpDir: `../${pre}` } : {}) });
        pre = `pre${i}`;
      }
      const final = join(work, 'final');
      const d0 = performance.now();
      await this.lxcCheckpoint('dump-stop', final, { signal: opts.signal, timeoutMs: left(), ...(pre ? { predumpDir: `../${pre}` } : {}) });
      try {
        await this.lxcCheckpoint('restore', final, { timeoutMs: CHECKPOINT_TIMEOUT_MS });
        await this.attach();
      } catch (err) {
        throw new Error(`lxc migrate of ${this.name}: dumped, but the restore failed (${errorMessage(err)}); nothing of it runs now`);
      }
      const downtimeMs = performance.now() - d0;
      return {
        totalS: (performance.now() - t0) / 1000,
        downtimeMs,
        bytes: await treeUsageBytes(work),
        ...(memoryBytes !== undefined ? { memoryBytes } : {}),
        detail: { preDumps: rounds, finalBytes: await treeUsageBytes(final), tool: `criu ${criu.version ?? '?'} via lxc-checkpoint` },
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Kill everything but the container's init, so the guest stays usable (a paused guest is resumed first). */
  async killAll(): Promise<void> {
    if (this.paused) await this.resume();
    if (this.cgroupRel) await killCgroup(cgroupLayout(), this.cgroupRel, this.systemPids);
  }

  async oomKills(): Promise<number> {
    return this.cgroupRel ? (oomKillsOf(cgroupLayout(), this.cgroupRel) ?? 0) : 0;
  }

  /** Kill the container's whole cgroup (init included: the container stops), then stop it for LXC's own state. */
  watchdogScript(): string {
    const kill = this.cgroupRel ? killCgroupScript(cgroupLayout(), this.cgroupRel) + '\n' : '';
    return `${kill}lxc-stop -P '${LXC_PATH}' -n '${this.name}' -k >/dev/null 2>&1`;
  }

  private async teardown(): Promise<void> {
    live.delete(this.name);
    // a frozen container cannot die: thawed first (its processes are killed right after)
    const f = this.freezerFiles;
    if (f && existsSync(f.status)) await thaw(f).catch(() => undefined);
    this.paused = false;
    await stopContainer(this.name);
    // an arena container's monitor group (LXC leaves it when a start fails)
    if (this.spec.arena) await removeEverywhere(guestGroupRel(`lxcmon-${this.name}`));
    await rm(this.dir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    await this.undo?.();
  }
}

/** cp -a of a directory tree (owners, modes, links, xattrs) into a new place. */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const r = await execa('cp', ['-a', '--reflink=auto', from, to], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`copy of ${from} to ${to} failed: ${(r.all ?? '').trim().split('\n').slice(-2).join(' | ')}`);
}

let stamp: Promise<Checkpoint['stamp']> | undefined;
/** What writes an lxc checkpoint here: the harness commit, this kernel, CRIU and LXC versions. */
function lxcStamp(): Promise<Checkpoint['stamp']> {
  stamp ??= (async () => {
    const repo = dirname(dirname(fileURLToPath(import.meta.url)));
    const [git, criu, lxcv] = await Promise.all([gitCommit(repo), criuVerdict(), execa('lxc-start', ['--version'], { reject: false })]);
    return stampNow(git.commit + (git.dirty ? '+dirty' : ''), `criu ${criu.version ?? '?'}, lxc ${lxcv.stdout.trim()}`);
  })();
  return stamp;
}

/** A private guest's own root filesystem, inside its container directory (removed with it, and by sweep). */
export function privateRootfs(guest: string): string {
  return join(LXC_PATH, guest, 'rootfs');
}

/** A full copy of the shared rootfs for one guest, complete (renamed into place) and written out to disk. */
async function copyRootfs(rootfsDir: string, guest: string, signal?: AbortSignal): Promise<void> {
  const target = privateRootfs(guest);
  const tmp = `${target}.copying`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(LXC_PATH, guest), { recursive: true });
  // -a keeps owners, modes, links, xattrs (file capabilities); no reflink: the copy's blocks are its own
  const cp = await execa('cp', ['-a', '--reflink=never', rootfsDir, tmp], { reject: false, all: true, cancelSignal: signal });
  if (cp.exitCode !== 0) throw new Error(`copy of ${rootfsDir} for ${guest} failed: ${(cp.all ?? '').trim().split('\n').slice(-2).join(' | ')}`);
  await rename(tmp, target);
  // written out now, so that its writeback does not run during the launches that follow
  await execa('sync', ['-f', target]);
}

async function stopContainer(name: string): Promise<void> {
  const r = await execa('lxc-stop', ['-P', LXC_PATH, '-n', name, '-k'], { reject: false, timeout: 30_000, all: true });
  const state = await execa('lxc-info', ['-P', LXC_PATH, '-n', name, '-s', '-H'], { reject: false });
  if (state.stdout.trim() === 'RUNNING') throw new Error(`lxc-stop ${name} left it running: ${(r.all ?? '').trim()}`);
}

let capabilities: Promise<Capabilities> | undefined;

/** Pause: the kernel's freezer (probed on a process); the rest: CRIU (probed by a real dump and restore), via lxc-checkpoint. */
async function lxcCapabilities(): Promise<Capabilities> {
  const [pause, criu] = await Promise.all([freezerVerdict(), criuVerdict()]);
  const pauseCap: Capability = pause.ok ? { ok: true, how: `${freezerHow(cgroupLayout())} on the container's cgroup` } : pause;
  if (!criu.ok) {
    const no: Capability = { ok: false, reason: criu.reason ?? 'CRIU does not work here' };
    return { pause: pauseCap, checkpoint: no, migrate: no, clone: no };
  }
  const via = `CRIU ${criu.version ?? '?'} via lxc-checkpoint (probed on a process)`;
  return {
    pause: pauseCap,
    checkpoint: { ok: true, how: `${via}; writable layer copied` },
    migrate: { ok: true, how: `${via}, same host: ${criu.dirtyTracking ? `${PRE_DUMPS} pre-dumps, then` : 'no dirty tracking:'} a stopping dump and a restore` },
    clone: { ok: true, how: `${via}: a dump that leaves it running, restored as a new container and readdressed` },
  };
}

const lxc: Driver = {
  name: 'lxc',
  description: 'LXC containers (lxc-* tools) on an overlay of a cached Debian rootfs',
  // criu: checkpoint, migration and clones (probed: Debian 12's CRIU 3.17 fails on Linux 6.18, then they are skipped with its reason)
  hostPackages: ['lxc', 'debootstrap', 'iproute2', 'criu'],
  cpuPolicies: ['cpuset', 'shares', 'quota'],
  async probe() {
    if (!isRoot()) return { ok: false, reason: 'lxc needs root (privileged containers, cgroups, the harness bridge); run as root' };
    const v = await execa('lxc-start', ['--version'], { reject: false });
    if (v.exitCode !== 0) return { ok: false, reason: 'lxc-start is not installed (apt-get install lxc)' };
    const layout = cgroupLayout();
    for (const c of ['cpuset', 'memory', 'pids']) {
      if (!layout.mounts[c]) return { ok: false, reason: `the ${c} cgroup controller is not available on this host` };
    }
    return { ok: true, accel: 'native' };
  },
  async prepare(ctx: PrepareContext) {
    rootfs = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
  },
  async provision(spec: GuestSpec, _ctx: RunContext) {
    if (!rootfs) throw new Error('lxc driver used before prepare()');
    const guest = new LxcGuest(spec);
    try {
      await guest.start(rootfs);
    } catch (err) {
      await guest.destroy();
      throw err;
    }
    return guest;
  },
  capabilities() {
    capabilities ??= lxcCapabilities();
    return capabilities;
  },
  /** A warm start: a new container named by spec from a checkpoint of an lxc guest, with its own address. */
  async restore(spec: GuestSpec, checkpoint: Checkpoint, _ctx: RunContext) {
    if (!rootfs) throw new Error('lxc driver used before prepare()');
    if (checkpoint.platform !== 'lxc') throw new Error(`a ${checkpoint.platform} checkpoint cannot be restored on lxc`);
    const criu = await criuVerdict();
    if (!criu.ok) throw new UnavailableError(`lxc restore: ${criu.reason}`);
    const meta = await readCheckpointMeta(checkpoint.dir);
    const why = stampMismatch(meta.stamp, await lxcStamp());
    if (why) throw new Error(why);
    if (meta.lowerRootfs !== undefined && meta.lowerRootfs !== rootfs) throw new Error(`the checkpoint is over another root filesystem (${meta.lowerRootfs}; this run's is ${rootfs}): not restored`);
    const guest = new LxcGuest(spec);
    try {
      await guest.start(rootfs, { dir: checkpoint.dir, meta });
    } catch (err) {
      await guest.destroy();
      throw err;
    }
    return guest;
  },
  /** A hot clone: a checkpoint of the running source (it goes on) restored at once as a new container with its own address. */
  async clone(source: Guest, spec: GuestSpec, ctx: RunContext) {
    const src = live.get(source.name);
    if (!src) throw new Error(`lxc clone: ${source.name} is not a running lxc guest of this run`);
    const criu = await criuVerdict();
    if (!criu.ok) throw new UnavailableError(`lxc clone: ${criu.reason}`);
    // beside the new container's directory, removed with it and by sweep
    const images = join(LXC_PATH, `${spec.name}.clone-images`);
    await rm(images, { recursive: true, force: true });
    await mkdir(images, { recursive: true });
    const drop = onCleanup(`lxc clone images ${images}`, () => rm(images, { recursive: true, force: true }));
    try {
      const checkpoint = await src.checkpoint(images, { leaveRunning: true, signal: ctx.signal });
      return await lxc.restore!(spec, checkpoint, ctx);
    } finally {
      await drop();
    }
  },
  async copyImage(spec: GuestSpec, ctx: RunContext): Promise<ImageCopy> {
    if (!rootfs) throw new Error('lxc driver used before prepare()');
    const dir = join(LXC_PATH, spec.name);
    // a copy no container was started on is removed at the end at the latest; sweep finds it after a crash
    const remove = onCleanup(`lxc private rootfs of ${spec.name}`, () => rm(dir, { recursive: true, force: true }));
    const t0 = performance.now();
    try {
      await copyRootfs(rootfs, spec.name, ctx.signal);
    } catch (err) {
      await remove();
      throw err;
    }
    return { bytes: await treeUsageBytes(privateRootfs(spec.name)), seconds: (performance.now() - t0) / 1000, remove };
  },
  async imageCopyTarget(guestPackages: string[]) {
    const dir = rootfsPath(recipeFor(guestPackages));
    return { dir: LXC_PATH, ...(existsSync(join(dir, '.virtbench-recipe.json')) ? { bytes: await treeUsageBytes(dir) } : {}) };
  },
  async sweep() {
    const found: string[] = [];
    if (existsSync(LXC_PATH)) {
      for (const name of readdirSync(LXC_PATH)) {
        // a container a killed run left paused cannot die frozen
        await execa('lxc-unfreeze', ['-P', LXC_PATH, '-n', name], { reject: false, timeout: 10_000 });
        await stopContainer(name).catch(() => undefined);
        await rm(join(LXC_PATH, name), { recursive: true, force: true });
        found.push(`lxc container ${name}`);
      }
    }
    // monitor groups of arena containers (a fixed name per container: a leftover would block its start)
    for (const m of allCgroupMounts()) {
      const parent = join(m, HARNESS_GROUP);
      if (!existsSync(parent)) continue;
      for (const name of readdirSync(parent).filter((n) => n.startsWith('lxcmon-'))) {
        await removeEverywhere(join(HARNESS_GROUP, name));
        found.push(`lxc monitor cgroup ${join(parent, name)}`);
      }
    }
    found.push(...(await sweepCriuProbe()));
    found.push(...(await sweepBridge()));
    return found;
  },
};

export default lxc;
