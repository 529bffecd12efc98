// LXC: real containers with the lxc-* tools. Each guest is an overlay over the cached Debian root
// filesystem (copy-on-write: a new guest costs an empty upper directory), or with a private image
// its own full copy of that directory, in a container path of the harness's own so that the host's
// containers are never touched. Limits are the same cgroup files bare metal uses, written as
// lxc.cgroup[2].* keys.
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { STATE_DIR, isRoot, memoryCeiling } from '../core/host.ts';
import type { Driver, ExecOptions, Guest, GuestSpec, ImageCopy, PrepareContext, RunContext } from '../core/types.ts';
import { ensureBridge, sweepBridge } from './bridge.ts';
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

class LxcGuest implements Guest {
  readonly platform = 'lxc';
  readonly accel = 'native' as const;
  readonly workdir = '/var/tmp/virtbench';
  /** A fresh host directory beside the overlay's upper one (same disk), bind-mounted here. */
  readonly plainDir?: string;
  readonly environment = GUEST_ENV;
  /** lxc-start to the container answering its first command, seconds (its launch time). */
  bootSeconds?: number;
  private initPid = 0;
  /** init (tini) and its `sleep infinity`: killing either stops the container. */
  private systemPids: number[] = [];
  private cgroupRel = '';
  private addr?: string;
  private undo?: () => Promise<void>;
  private readonly dir: string;

  constructor(readonly spec: GuestSpec) {
    this.dir = join(LXC_PATH, spec.name);
    if (spec.plainDir) this.plainDir = PLAIN_DIR;
  }

  get name(): string {
    return this.spec.name;
  }

  async start(rootfsDir: string): Promise<void> {
    const layout = cgroupLayout();
    ensureHarnessGroup(layout);
    const net = this.spec.network ? await ensureBridge() : undefined;
    this.addr = net?.allocate();
    const own = this.spec.image === 'private';
    this.undo = onCleanup(`lxc container ${this.name}`, () => this.teardown());
    // private: its own full copy of the rootfs (made by copyImage before the launch, else now)
    if (own && !existsSync(privateRootfs(this.name))) await copyRootfs(rootfsDir, this.name);
    else if (!own) await mkdir(join(this.dir, 'upper'), { recursive: true });
    const plain = this.plainDir ? join(this.dir, 'plain') : undefined;
    if (plain) await mkdir(plain, { recursive: true });
    const config = lxcConfig({
      spec: plain ? { ...this.spec, shares: [...this.spec.shares, { host: plain, guest: PLAIN_DIR, readonly: false }] } : this.spec,
      rootfs: own ? privateRootfs(this.name) : rootfsDir,
      ...(own ? {} : { upper: join(this.dir, 'upper') }),
      cgroupVersion: layout.version,
      ceilingBytes: memoryCeiling(this.spec),
      availableFiles: cgroupFileExists,
      net: net && this.addr ? { bridge: net.bridge, address: this.addr, gateway: net.hostAddress } : undefined,
    });
    await writeFile(join(this.dir, 'config'), config);
    const log = join(this.dir, 'lxc.log');
    const t0 = performance.now();
    // the container's init must stay killable by the OOM killer while the harness protects itself
    const start = unprotected('lxc-start', ['-P', LXC_PATH, '-n', this.name, '-d', '-o', log, '-l', 'ERROR']);
    const r = await execa(start.file, start.args, { reject: false, all: true, timeout: START_TIMEOUT_MS });
    if (r.exitCode !== 0) throw new Error(`lxc-start ${this.name} failed: ${(r.all ?? '').trim().split('\n').slice(-2).join(' | ')} (log: ${log})`);
    const w = await execa('lxc-wait', ['-P', LXC_PATH, '-n', this.name, '-s', 'RUNNING', '-t', '20'], { reject: false });
    if (w.exitCode !== 0) throw new Error(`container ${this.name} did not reach RUNNING within 20 s (log: ${log})`);
    const info = await execa('lxc-info', ['-P', LXC_PATH, '-n', this.name, '-p', '-H']);
    this.initPid = Number(info.stdout.trim());
    this.cgroupRel = cgroupOf(this.initPid, 'memory', layout) ?? `lxc.payload.${this.name}`;
    if (this.spec.arena && !this.cgroupRel.startsWith(`${HARNESS_GROUP}/${this.spec.arena}/`)) {
      throw new Error(`container ${this.name} is in cgroup ${this.cgroupRel}, not under its arena ${this.spec.arena}`);
    }
    this.systemPids = cgroupPids(layout, this.cgroupRel);
    await this.sh(`mkdir -p ${this.workdir}`, { timeoutMs: 10_000 });
    this.bootSeconds = (performance.now() - t0) / 1000;
  }

  private launch(script: string, opts: ExecOptions): Launch {
    return {
      file: 'lxc-attach',
      args: ['-P', LXC_PATH, '-n', this.name, '--clear-env', ...Object.entries(GUEST_ENV).flatMap(([k, v]) => ['-v', `${k}=${v}`]), '--', 'bash', '-c', withContext(script, opts)],
    };
  }

  sh(script: string, opts: ExecOptions = {}) {
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

  /** Kill everything but the container's init, so the guest stays usable. */
  async killAll(): Promise<void> {
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
    await stopContainer(this.name);
    // an arena container's monitor group (LXC leaves it when a start fails)
    if (this.spec.arena) await removeEverywhere(guestGroupRel(`lxcmon-${this.name}`));
    await rm(this.dir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    await this.undo?.();
  }
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

const lxc: Driver = {
  name: 'lxc',
  description: 'LXC containers (lxc-* tools) on an overlay of a cached Debian rootfs',
  hostPackages: ['lxc', 'debootstrap', 'iproute2'],
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
    found.push(...(await sweepBridge()));
    return found;
  },
};

export default lxc;
