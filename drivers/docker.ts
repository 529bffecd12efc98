// Docker: the OCI container platform, with Debian's docker.io (dockerd 20.10, containerd, runc).
//
// Why Docker and not Podman: Docker is what most readers compare against (the study's Docker
// figures), and it runs here as it would on a lab host. Measured on the development hosts (Debian
// 12, root, no systemd as PID 1, cgroup v1 controllers with a v2 hierarchy beside them at
// /sys/fs/cgroup/unified): dockerd starts without systemd (it runs its own containerd), picks
// overlay2 on ext4 (no vfs or fuse-overlayfs needed), uses the cgroupfs driver on v1, and applies
// every limit of settingsFor() through its own flags except the I/O weight (it only knows
// blkio.weight; a bfq kernel has blkio.bfq.weight), which is written into the container's cgroup
// as bare metal writes it. Podman was not needed.
//
// No registry is reachable: the image is built locally, through a Dockerfile, from the harness's
// cached Debian root filesystem (a tar of it ADDed onto `scratch`, then one small layer), and cached
// by that root filesystem's id; its build time and layer sizes are recorded beside the cache.
//
// Networking: `--network none`, then a veth into the container's namespace on the harness bridge
// with a static address, as LXC is attached. Docker's own bridge driver would take the harness
// bridge over and rewrite the host's iptables; the daemon the harness starts has both disabled.
//
// The daemon: a running one (default socket) is used as it is; otherwise the harness starts
// dockerd and stops it again at the end. Always /usr/bin/docker: another client earlier in PATH may
// speak another API version.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { onCleanup } from '../core/cleanup.ts';
import { UnavailableError } from '../core/errors.ts';
import { CACHE_DIR, STATE_DIR, diskRoom, isRoot, memoryCeiling, pidAlive } from '../core/host.ts';
import type { Driver, ExecOptions, Guest, GuestSpec, PrepareContext, RunContext } from '../core/types.ts';
import { ensureBridge, sweepBridge } from './bridge.ts';
import {
  CONTROLLERS, HARNESS_GROUP, cgroupLayout, cgroupOf, cgroupPids, cgroupUsage, ensureHarnessGroup, killCgroup, oomKillsOf, settingsFor,
  type CgroupLayout, type CgroupSetting,
} from './cgroups.ts';
import { GUEST_ENV, runInGuest, spawnInGuest, withContext, type Launch } from './guest-process.ts';
import { ensureRootfs, recipeFor } from './rootfs.ts';
import { treeUsageBytes } from './disk-usage.ts';

export const DOCKER = '/usr/bin/docker';
const DOCKERD = '/usr/sbin/dockerd';
export const IMAGE_REPO = 'virtbench/guest';
/** Every container of the harness is named so; sweep() removes what a killed run left by this prefix. */
export const CONTAINER_PREFIX = 'virtbench-';
/** Host ends of the guests' veths (the container's end dies with its namespace). */
export const VETH_PREFIX = 'vbo';
/** State of a live run: the pid file and log of a dockerd the harness started. */
export const DOCKER_STATE = join(STATE_DIR, 'docker');
const DAEMON_PIDFILE = join(DOCKER_STATE, 'dockerd.pid');
const IMAGE_CACHE = join(CACHE_DIR, 'docker');
const DAEMON_START_TIMEOUT_MS = 60_000;

export function containerName(guest: string): string {
  return `${CONTAINER_PREFIX}${guest}`;
}

export function imageTag(rootfsDir: string): string {
  return `${IMAGE_REPO}:${basename(rootfsDir)}`;
}

/** The image's recipe: the root filesystem as the base layer, then the harness's own small layer. */
export function dockerfile(rootfsId: string): string {
  return [
    'FROM scratch',
    'ADD rootfs.tar /',
    `LABEL virtbench.rootfs=${rootfsId}`,
    'RUN mkdir -p /var/tmp/virtbench && echo ' + rootfsId + ' > /etc/virtbench-image',
    // tini reaps orphans (a fork bomb leaves many) and keeps the container alive between commands, as on lxc
    'CMD ["/usr/bin/tini", "-s", "--", "/bin/sleep", "infinity"]',
    '',
  ].join('\n');
}

/** docker flags that write exactly these cgroup files with exactly these values (the rest is written directly). */
const FLAG_FOR: Record<string, (value: string) => string[]> = {
  'cpuset.cpus': (v) => ['--cpuset-cpus', v],
  'cpu.shares': (v) => ['--cpu-shares', v],
  'cpu.cfs_period_us': (v) => ['--cpu-period', v],
  'cpu.cfs_quota_us': (v) => ['--cpu-quota', v],
  // memory+swap = memory: no swap, as memory.swap.max=0 on v2
  'memory.limit_in_bytes': (v) => ['--memory', v, '--memory-swap', v],
  'memory.max': (v) => ['--memory', v, '--memory-swap', v],
  'memory.soft_limit_in_bytes': (v) => ['--memory-reservation', v],
  'memory.low': (v) => ['--memory-reservation', v],
  'cpu.max': (v) => ['--cpu-quota', v.split(' ')[0]!, '--cpu-period', v.split(' ')[1]!],
  'pids.max': (v) => ['--pids-limit', v],
};
/** Settings docker expresses through another flag (swap follows --memory-swap). */
const IMPLIED = new Set(['memory.swap.max']);

/** In an arena the container may swap within the arena's bound (--memory-swap -1), as a bare-metal or LXC tenant there. */
function swapWithinArena(flags: string[]): string[] {
  const i = flags.indexOf('--memory-swap');
  return i < 0 ? flags : [...flags.slice(0, i + 1), '-1', ...flags.slice(i + 2)];
}

/** `docker run` arguments for a guest, and the settings docker has no exact flag for; pure, for tests. */
export function dockerRunArgs(o: { spec: GuestSpec; image: string; cgroupVersion: 1 | 2; ceilingBytes: number }): { args: string[]; direct: CgroupSetting[] } {
  const flags: string[] = [];
  const direct: CgroupSetting[] = [];
  for (const s of settingsFor(o.spec, o.cgroupVersion, o.ceilingBytes)) {
    const f = FLAG_FOR[s.file];
    if (f) flags.push(...f(s.value));
    else if (!IMPLIED.has(s.file)) direct.push(s);
  }
  const mounts: string[] = [];
  for (const sh of o.spec.shares) {
    if (/[,=]/.test(sh.host + sh.guest)) throw new Error(`docker cannot bind ${sh.host}: a share path must not contain ',' or '='`);
    mounts.push('--mount', `type=bind,source=${sh.host},target=${sh.guest}${sh.readonly ? ',readonly' : ''}`);
  }
  const args = [
    'run', '--detach', '--pull', 'never',
    '--name', containerName(o.spec.name),
    '--hostname', o.spec.name,
    '--label', `virtbench.guest=${o.spec.name}`,
    '--network', 'none',
    // under the harness's parent group (or its arena there), beside bare metal's guests: the same
    // cpuset parent, swept the same way
    '--cgroup-parent', `/${o.spec.arena ? `${HARNESS_GROUP}/${o.spec.arena}` : HARNESS_GROUP}`,
    ...(o.spec.arena ? swapWithinArena(flags) : flags),
    ...mounts,
    o.image,
  ];
  return { args, direct };
}

async function docker(args: string[], timeoutMs = 120_000) {
  return execa(DOCKER, args, { reject: false, all: true, timeout: timeoutMs, env: { DOCKER_BUILDKIT: '0' } });
}

function tail(text: string | undefined, lines = 3): string {
  return (text ?? '').trim().split('\n').slice(-lines).join(' | ');
}

async function daemonAnswers(): Promise<boolean> {
  const r = await docker(['version', '--format', '{{.Server.Version}}'], 15_000);
  return r.exitCode === 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of a dockerd the harness started (its pid file under the state dir), if it is alive. */
function harnessDaemonPid(): number | undefined {
  if (!existsSync(DAEMON_PIDFILE)) return undefined;
  const pid = Number(readFileSync(DAEMON_PIDFILE, 'utf8').trim());
  return pid > 0 && pidAlive(pid) ? pid : undefined;
}

async function stopDaemon(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (const until = Date.now() + 30_000; pidAlive(pid) && Date.now() < until; ) await sleep(200);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(DOCKER_STATE, { recursive: true, force: true });
}

/**
 * Start dockerd: its own containerd, cgroupfs, no default bridge, no iptables or masquerading
 * (guests are attached to the harness bridge by the harness). Returns its pid.
 */
async function startDaemon(log: (line: string) => void): Promise<number> {
  await mkdir(DOCKER_STATE, { recursive: true });
  const logFile = join(DOCKER_STATE, 'dockerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(
    DOCKERD,
    ['--exec-opt', 'native.cgroupdriver=cgroupfs', '--iptables=false', '--ip-masq=false', '--bridge=none', '--pidfile', DAEMON_PIDFILE, '--log-level', 'warn'],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new UnavailableError(`dockerd did not start (see ${logFile})`);
  const t0 = Date.now();
  while (Date.now() - t0 < DAEMON_START_TIMEOUT_MS) {
    if (await daemonAnswers()) {
      log(`started dockerd (pid ${pid}) in ${((Date.now() - t0) / 1000).toFixed(1)} s; it is stopped at the end`);
      return pid;
    }
    if (!pidAlive(pid)) break;
    await sleep(300);
  }
  const why = tail(readFileSync(logFile, 'utf8'), 2);
  await stopDaemon(pid);
  throw new UnavailableError(`dockerd did not answer within ${DAEMON_START_TIMEOUT_MS / 1000} s: ${why}`);
}

let daemonUndo: (() => Promise<void>) | undefined;

/** A daemon that answers; started (and registered to be stopped) when none runs. */
async function ensureDaemon(log: (line: string) => void): Promise<void> {
  if (daemonUndo || (await daemonAnswers())) return;
  const pid = await startDaemon(log);
  daemonUndo = onCleanup(`dockerd ${pid} started by virtbench`, async () => {
    daemonUndo = undefined;
    await stopDaemon(pid);
  });
}

/** What building the image cost (the study's Table 3), kept beside the cache. */
export interface ImageFacts {
  tag: string;
  rootfs: string;
  built: string;
  /** tar of the root filesystem (the build context) plus docker build. */
  buildSeconds: number;
  tarSeconds: number;
  dockerBuildSeconds: number;
  contextBytes: number;
  imageBytes: number;
  layers: { createdBy: string; bytes: number }[];
  storageDriver: string;
  dockerVersion: string;
}

export function imageFactsPath(rootfsDir: string): string {
  return join(IMAGE_CACHE, `${basename(rootfsDir)}.json`);
}

export function readImageFacts(rootfsDir: string): ImageFacts | undefined {
  try {
    return JSON.parse(readFileSync(imageFactsPath(rootfsDir), 'utf8')) as ImageFacts;
  } catch {
    return undefined;
  }
}

/** The image of this root filesystem: cached, or built through the Dockerfile once. Stale harness images are removed. */
async function ensureImage(rootfsDir: string, log: (line: string) => void): Promise<ImageFacts> {
  const tag = imageTag(rootfsDir);
  const id = basename(rootfsDir);
  const cached = readImageFacts(rootfsDir);
  if (cached && (await docker(['image', 'inspect', tag])).exitCode === 0) return cached;
  const ctxDir = join(IMAGE_CACHE, `build-${process.pid}`);
  const removeCtx = onCleanup(`docker build context ${ctxDir}`, () => rm(ctxDir, { recursive: true, force: true }));
  try {
    await mkdir(ctxDir, { recursive: true });
    log(`building docker image ${tag} from ${rootfsDir} (once; about a minute)`);
    const t0 = performance.now();
    // numeric owners and extended attributes (file capabilities) as they are in the root filesystem
    const tar = await execa('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfsDir, '-cf', join(ctxDir, 'rootfs.tar'), '.'], { reject: false, all: true });
    if (tar.exitCode !== 0) throw new Error(`tar of ${rootfsDir} failed: ${tail(tar.all)}`);
    const t1 = performance.now();
    await writeFile(join(ctxDir, 'Dockerfile'), dockerfile(id));
    const b = await docker(['build', '--network', 'none', '--force-rm', '--tag', tag, ctxDir], 20 * 60_000);
    if (b.exitCode !== 0) throw new Error(`docker build of ${tag} failed: ${tail(b.all)}`);
    const t2 = performance.now();
    const contextBytes = (await stat(join(ctxDir, 'rootfs.tar'))).size;
    const inspect = await docker(['image', 'inspect', '--format', '{{.Size}}', tag]);
    const history = await docker(['history', '--no-trunc', '--format', '{{.Size}}\t{{.CreatedBy}}', '--human=false', tag]);
    const info = await docker(['info', '--format', '{{.Driver}}\t{{.ServerVersion}}']);
    const [storageDriver = '', dockerVersion = ''] = info.stdout.trim().split('\t');
    const facts: ImageFacts = {
      tag,
      rootfs: rootfsDir,
      built: new Date().toISOString(),
      buildSeconds: (t2 - t0) / 1000,
      tarSeconds: (t1 - t0) / 1000,
      dockerBuildSeconds: (t2 - t1) / 1000,
      contextBytes,
      imageBytes: Number(inspect.stdout.trim()),
      layers: history.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => ({ bytes: Number(l.split('\t')[0]), createdBy: l.split('\t').slice(1).join('\t') })),
      storageDriver,
      dockerVersion,
    };
    writeFileAtomic(imageFactsPath(rootfsDir), JSON.stringify(facts, null, 2) + '\n');
    log(`docker image ${tag}: ${(facts.imageBytes / 1e6).toFixed(0)} MB, built in ${facts.buildSeconds.toFixed(1)} s (tar ${facts.tarSeconds.toFixed(1)} s, docker build ${facts.dockerBuildSeconds.toFixed(1)} s)`);
  } finally {
    await removeCtx();
  }
  await removeStaleImages(tag);
  return readImageFacts(rootfsDir)!;
}

/** Harness images of other root filesystems: each is a GB that no run will use again. */
async function removeStaleImages(keep?: string): Promise<string[]> {
  const r = await docker(['images', IMAGE_REPO, '--format', '{{.Repository}}:{{.Tag}}']);
  const removed: string[] = [];
  for (const tag of r.stdout.split('\n').filter((t) => t && t !== keep)) {
    if ((await docker(['rmi', '--force', tag])).exitCode === 0) removed.push(`docker image ${tag}`);
  }
  // dangling layers of an interrupted build carry the harness's label
  await docker(['image', 'prune', '--force', '--filter', 'label=virtbench.rootfs']);
  return removed;
}

function cgroupDirs(layout: CgroupLayout, rel: string): string[] {
  const controllers = layout.version === 1 ? CONTROLLERS : ['cpu'];
  return [...new Set(controllers.map((c) => layout.mounts[c]).filter((m): m is string => m !== undefined).map((m) => join(m, rel)))];
}

/**
 * v1 hierarchies the harness does not use (devices, name=systemd...): runc also creates the
 * harness's parent group there. Pure, for tests.
 */
export function otherHierarchies(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    const [fstype, , opts = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' || !mountPoint) continue;
    if (!opts.split(',').some((o) => (CONTROLLERS as readonly string[]).includes(o))) out.push(mountPoint);
  }
  return out;
}

/** The harness's parent group in those hierarchies, once no container is left in it. */
function removeOtherParents(): string[] {
  const removed: string[] = [];
  for (const m of otherHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    const d = join(m, HARNESS_GROUP);
    try {
      if (existsSync(d)) {
        rmdirSync(d);
        removed.push(`cgroup ${d}`);
      }
    } catch {
      /* a container still in it: removed with the last one */
    }
  }
  return removed;
}

let vethSeq = 0;

class DockerGuest implements Guest {
  readonly platform = 'docker';
  readonly accel = 'native' as const;
  readonly workdir = '/var/tmp/virtbench';
  /** `docker run` to the container answering its first command, seconds (its launch time). */
  bootSeconds?: number;
  /** Settings this kernel does not offer (e.g. an I/O weight without bfq). */
  readonly notApplied: CgroupSetting[] = [];
  private initPid = 0;
  /** tini and its `sleep infinity`: killing either stops the container. */
  private systemPids: number[] = [];
  private cgroupRel = '';
  private addr?: string;
  private veth?: string;
  private undo?: () => Promise<void>;
  private readonly container: string;

  constructor(readonly spec: GuestSpec) {
    this.container = containerName(spec.name);
  }

  get name(): string {
    return this.spec.name;
  }

  /** The container's id and cgroup, for tests and footprint measurements. */
  get cgroup(): string {
    return this.cgroupRel;
  }

  async start(image: string): Promise<void> {
    const layout = cgroupLayout();
    ensureHarnessGroup(layout);
    const net = this.spec.network ? await ensureBridge() : undefined;
    this.addr = net?.allocate();
    this.undo = onCleanup(`docker container ${this.container}`, () => this.teardown());
    const { args, direct } = dockerRunArgs({ spec: this.spec, image, cgroupVersion: layout.version, ceilingBytes: memoryCeiling(this.spec) });
    const t0 = performance.now();
    const r = await docker(args, 60_000);
    if (r.exitCode !== 0) throw new Error(`docker run ${this.container} failed: ${tail(r.all, 2)}`);
    const pid = await docker(['inspect', '--format', '{{.State.Pid}}', this.container]);
    this.initPid = Number(pid.stdout.trim());
    if (!(this.initPid > 0)) throw new Error(`container ${this.container} is not running: ${tail(pid.all, 2)}`);
    const rel = cgroupOf(this.initPid, 'memory', layout);
    if (!rel) throw new Error(`container ${this.container}: no cgroup for its init ${this.initPid}`);
    this.cgroupRel = rel;
    this.systemPids = cgroupPids(layout, rel);
    for (const s of direct) {
      const mount = layout.mounts[s.controller];
      const file = mount && join(mount, rel, s.file);
      if (!file || !existsSync(file)) this.notApplied.push(s);
      else writeFileSync(file, s.value);
    }
    if (net && this.addr) await this.attach(net.bridge, this.addr, net.hostAddress);
    await this.sh(`mkdir -p ${this.workdir}`, { timeoutMs: 10_000 });
    this.bootSeconds = (performance.now() - t0) / 1000;
  }

  /** A veth pair: the host end on the harness bridge, the other end eth0 in the container with a static address. */
  private async attach(bridge: string, address: string, gateway: string): Promise<void> {
    const host = `${VETH_PREFIX}${process.pid % 10000}x${vethSeq++}`.slice(0, 13);
    const peer = `${host}p`;
    this.veth = host;
    const inNs = (...a: string[]) => execa('nsenter', ['-t', String(this.initPid), '-n', 'ip', ...a]);
    await execa('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
    await execa('ip', ['link', 'set', peer, 'netns', String(this.initPid)]);
    await execa('ip', ['link', 'set', host, 'master', bridge, 'up']);
    await inNs('link', 'set', peer, 'name', 'eth0');
    await inNs('addr', 'add', `${address}/24`, 'broadcast', address.replace(/\.\d+$/, '.255'), 'dev', 'eth0');
    await inNs('link', 'set', 'eth0', 'up');
    await inNs('route', 'add', 'default', 'via', gateway);
  }

  private launch(script: string, opts: ExecOptions): Launch {
    return {
      file: DOCKER,
      args: [
        'exec', ...(opts.input === undefined ? [] : ['--interactive']),
        ...Object.entries(GUEST_ENV).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
        this.container, 'bash', '-c', withContext(script, opts),
      ],
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

  /** Its writable layer (overlay2's upper directory; the image's layers are shared). */
  async diskBytes(): Promise<number> {
    const r = await docker(['inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', this.container]);
    const upper = r.stdout.trim();
    if (r.exitCode !== 0 || !upper.startsWith('/')) throw new Error(`container ${this.container}: no writable layer to measure: ${tail(r.all, 2)}`);
    return treeUsageBytes(upper);
  }

  /** Kill everything but the container's init, so the guest stays usable. */
  async killAll(): Promise<void> {
    if (this.cgroupRel) await killCgroup(cgroupLayout(), this.cgroupRel, this.systemPids);
  }

  async oomKills(): Promise<number> {
    return this.cgroupRel ? (oomKillsOf(cgroupLayout(), this.cgroupRel) ?? 0) : 0;
  }

  private async teardown(): Promise<void> {
    await removeContainer(this.container);
    if (this.veth) await execa('ip', ['link', 'del', this.veth], { reject: false });
    // runc removes the container's cgroups; a group it could not remove (a process it missed) goes here
    if (this.cgroupRel) {
      const layout = cgroupLayout();
      await killCgroup(layout, this.cgroupRel);
      for (const d of cgroupDirs(layout, this.cgroupRel)) {
        try {
          if (existsSync(d)) rmdirSync(d);
        } catch {
          /* reported by the leftovers check; the harness group's removal retries */
        }
      }
    }
  }

  async destroy(): Promise<void> {
    await this.undo?.();
  }
}

async function removeContainer(name: string): Promise<void> {
  const r = await docker(['rm', '--force', '--volumes', name], 60_000);
  if (r.exitCode !== 0 && !/No such container/i.test(r.all ?? '')) throw new Error(`docker rm ${name} failed: ${tail(r.all, 2)}`);
}

let image: string | undefined;
let parentsUndo: (() => Promise<void>) | undefined;

const dockerDriver: Driver = {
  name: 'docker',
  description: "Docker containers (Debian's docker.io) from an image built locally from the cached Debian rootfs",
  hostPackages: ['docker.io', 'iproute2', 'util-linux'],
  cpuPolicies: ['cpuset', 'shares', 'quota'],
  async probe() {
    if (!isRoot()) return { ok: false, reason: 'docker needs root (the daemon, cgroups, the harness bridge); run as root' };
    if (!existsSync(DOCKER) || !existsSync(DOCKERD)) return { ok: false, reason: 'Docker is not installed (apt-get install docker.io)' };
    const layout = cgroupLayout();
    for (const c of ['cpuset', 'memory', 'pids']) {
      if (!layout.mounts[c]) return { ok: false, reason: `the ${c} cgroup controller is not available on this host` };
    }
    return { ok: true, accel: 'native' };
  },
  async prepare(ctx: PrepareContext) {
    const rootfs = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
    await ensureDaemon(ctx.log);
    // registered before any container, so it runs after the last one is gone
    parentsUndo ??= onCleanup('harness cgroup in the hierarchies runc also uses', () => {
      parentsUndo = undefined;
      removeOtherParents();
    });
    image = (await ensureImage(rootfs, ctx.log)).tag;
  },
  async guestDiskRoom() {
    // containers' writable layers are under the daemon's data root: a running daemon's own, else the default of the one the harness starts
    const r = existsSync(DOCKER) ? await docker(['info', '--format', '{{.DockerRootDir}}'], 10_000) : undefined;
    const root = r?.exitCode === 0 && r.stdout.trim().startsWith('/') ? r.stdout.trim() : '/var/lib/docker';
    return diskRoom(root);
  },
  async provision(spec: GuestSpec, _ctx: RunContext) {
    if (!image) throw new Error('docker driver used before prepare()');
    const guest = new DockerGuest(spec);
    try {
      await guest.start(image);
    } catch (err) {
      await guest.destroy();
      throw err;
    }
    return guest;
  },
  async sweep() {
    const found: string[] = [];
    // a daemon killed with the harness leaves its containers to its shims: starting it again stops them
    const leftDaemon = harnessDaemonPid();
    let started: number | undefined;
    if (!(await daemonAnswers())) {
      if (!existsSync(DOCKER_STATE) || !existsSync(DOCKERD)) return found;
      started = await startDaemon(() => undefined).catch(() => undefined);
    }
    const ps = await docker(['ps', '--all', '--format', '{{.Names}}']);
    for (const name of ps.stdout.split('\n').filter((n) => n.startsWith(CONTAINER_PREFIX))) {
      await removeContainer(name).catch(() => undefined);
      found.push(`docker container ${name}`);
    }
    const links = await execa('ip', ['-o', 'link', 'show', 'type', 'veth'], { reject: false });
    for (const m of links.stdout.matchAll(new RegExp(`^\\d+: (${VETH_PREFIX}[^:@]*)`, 'gm'))) {
      await execa('ip', ['link', 'del', m[1]!], { reject: false });
      found.push(`veth ${m[1]}`);
    }
    const daemon = started ?? leftDaemon;
    if (daemon !== undefined) {
      await stopDaemon(daemon);
      found.push(`dockerd ${daemon} started by an earlier run`);
    }
    found.push(...removeOtherParents());
    found.push(...(await sweepBridge()));
    return found;
  },
};

export default dockerDriver;
