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
// A guest on a private image (GuestSpec.image 'private') gets an image of its own: the rootfs plus a
// marker naming the guest, `docker import`ed as one layer whose digest no other image shares, so
// overlay2 stores it apart (a full copy); it is removed with the guest, and by sweep after a crash.
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
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { onCleanup } from '../core/cleanup.ts';
import { UnavailableError } from '../core/errors.ts';
import { CACHE_DIR, STATE_DIR, diskRoom, isRoot, memoryCeiling, pidAlive } from '../core/host.ts';
import type { Capabilities, Capability, Driver, ExecOptions, Guest, GuestSpec, ImageCopy, PrepareContext, RunContext } from '../core/types.ts';
import { ensureBridge, sweepBridge } from './bridge.ts';
import { criuVerdict, sweepCriuProbe } from './criu.ts';
import { freezerHow, freezerVerdict } from './freezer-probe.ts';
import {
  CONTROLLERS, HARNESS_GROUP, cgroupLayout, cgroupOf, cgroupPids, cgroupUsage, ensureHarnessGroup, killCgroup, oomKillsOf, settingsFor,
  type CgroupLayout, type CgroupSetting,
} from './cgroups.ts';
import { GUEST_ENV, runInGuest, spawnInGuest, withContext, type Launch } from './guest-process.ts';
import { ensureRootfs, recipeFor, rootfsPath } from './rootfs.ts';
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
/** Host directories bind-mounted as guests' plain directories (GuestSpec.plainDir), one per container. */
const PLAIN_HOST_DIR = join(STATE_DIR, 'docker-plain');
/** Where a container that asked for one sees its plain directory. */
const PLAIN_DIR = '/var/tmp/virtbench-plain';
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

/** Every guest's private image (GuestSpec.image 'private') is a tag of this repository: the guest's name. */
export const PRIVATE_REPO = 'virtbench/private';
export const privateImageTag = (guest: string) => `${PRIVATE_REPO}:${guest.toLowerCase()}`;
/** Where the daemon keeps its tags: readable without a daemon, so leftovers and sweep see private images of a stopped one. */
export const REPOSITORIES_JSON = '/var/lib/docker/image/overlay2/repositories.json';

/** Private images the daemon's tag file lists (pure on its text, for tests). */
export function privateImagesIn(repositoriesJson: string): string[] {
  try {
    const r = JSON.parse(repositoriesJson) as { Repositories?: Record<string, Record<string, string>> };
    return Object.keys(r.Repositories?.[PRIVATE_REPO] ?? {});
  } catch {
    return [];
  }
}

export function privateImagesOnDisk(): string[] {
  return existsSync(REPOSITORIES_JSON) ? privateImagesIn(readFileSync(REPOSITORIES_JSON, 'utf8')) : [];
}

/**
 * `docker import` settings of a private image: what the shared image's Dockerfile gives (PATH as
 * the builder sets it, the command, the rootfs label) plus the guest it belongs to.
 */
export function privateImageChanges(rootfsId: string, guest: string): string[] {
  return [
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'CMD ["/usr/bin/tini", "-s", "--", "/bin/sleep", "infinity"]',
    `LABEL virtbench.rootfs=${rootfsId} virtbench.private=${guest}`,
  ].flatMap((c) => ['--change', c]);
}

/**
 * A private image for one guest: the whole root filesystem plus the shared image's small files and
 * a marker naming the guest, imported as ONE layer. Layers are stored by content: the marker makes
 * this layer's digest differ from the shared image's and every other guest's, so overlay2 keeps a
 * full copy of its own (the shared image's rootfs layer would be reused by any image built on it).
 */
async function importPrivateImage(rootfsDir: string, guest: string, signal?: AbortSignal): Promise<void> {
  const stage = await mkdtemp(join(tmpdir(), 'vb-private-image-'));
  try {
    const id = basename(rootfsDir);
    await mkdir(join(stage, 'etc'), { recursive: true });
    await mkdir(join(stage, 'var', 'tmp', 'virtbench'), { recursive: true });
    await writeFile(join(stage, 'etc', 'virtbench-image'), `${id}\n`);
    await writeFile(join(stage, 'etc', 'virtbench-private'), `${guest}\n`);
    const tar = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfsDir, '-cf', '-', '.', '-C', stage, './etc/virtbench-image', './etc/virtbench-private', './var/tmp/virtbench'];
    const importer = [DOCKER, 'import', ...privateImageChanges(id, guest), '-', privateImageTag(guest)];
    // a shell pipe: a GB of tar through node's streams would cost CPU (and buffer limits); pipefail
    // catches a tar cut short, which docker might otherwise import as an incomplete image
    const r = await execa('bash', ['-c', 'set -o pipefail; n=$1; shift; tar "${@:1:n}" | "${@:n+1}"', 'bash', String(tar.length), ...tar, ...importer], { reject: false, all: true, cancelSignal: signal });
    if (r.exitCode !== 0) {
      await removeImage(privateImageTag(guest)).catch(() => undefined);
      throw new Error(`tar | docker import of ${privateImageTag(guest)} failed: ${tail(r.all, 2)}`);
    }
    // written out now, so that its writeback does not run during the launches that follow
    await execa('sync', ['-f', '/var/lib/docker']);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Bytes an image's own top layer occupies (its overlay2 diff directory). */
async function topLayerBytes(tag: string): Promise<number> {
  const r = await docker(['image', 'inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', tag]);
  const dir = r.stdout.trim();
  if (r.exitCode !== 0 || !dir.startsWith('/')) throw new Error(`image ${tag}: no layer directory to measure: ${tail(r.all, 2)}`);
  return treeUsageBytes(dir);
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

/** Repository of the images the `image` experiment builds and removes again (never the guests' cached one). */
export const BUILD_PROBE_REPO = 'virtbench/image-build';

export interface BuildOptions {
  /** Build every step again (the `image` experiment: a fresh build, not docker's layer cache). */
  noCache?: boolean;
  /** These paths of the root filesystem (relative, e.g. 'usr/share') are left out of the image: a cheaper build. */
  exclude?: string[];
  signal?: AbortSignal;
}

/**
 * Build the image `tag` through the Dockerfile: a tar of the root filesystem (the build context in
 * `ctxDir`, removed after) ADDed onto scratch, then the harness's layer; timed and measured.
 */
export async function buildImage(rootfsDir: string, tag: string, ctxDir: string, log: (line: string) => void, o: BuildOptions = {}): Promise<ImageFacts> {
  const id = basename(rootfsDir);
  const removeCtx = onCleanup(`docker build context ${ctxDir}`, () => rm(ctxDir, { recursive: true, force: true }));
  try {
    await mkdir(ctxDir, { recursive: true });
    const t0 = performance.now();
    // numeric owners and extended attributes (file capabilities) as they are in the root filesystem
    // left-out paths as a file of exact names (anchored, no wildcards): there may be hundreds
    const exclude: string[] = [];
    if (o.exclude?.length) {
      await writeFile(join(ctxDir, 'exclude'), o.exclude.map((m) => `./${m}`).join('\n') + '\n');
      exclude.push('--anchored', '--no-wildcards', `--exclude-from=${join(ctxDir, 'exclude')}`);
    }
    const tar = await execa('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', ...exclude, '-C', rootfsDir, '-cf', join(ctxDir, 'rootfs.tar'), '.'], { reject: false, all: true, ...(o.signal ? { cancelSignal: o.signal } : {}) });
    if (tar.exitCode !== 0) throw new Error(`tar of ${rootfsDir} failed: ${tail(tar.all)}`);
    const t1 = performance.now();
    await writeFile(join(ctxDir, 'Dockerfile'), dockerfile(id));
    const b = await docker(['build', '--network', 'none', '--force-rm', ...(o.noCache ? ['--no-cache'] : []), '--tag', tag, ctxDir], 20 * 60_000);
    if (b.exitCode !== 0) throw new Error(`docker build of ${tag} failed: ${tail(b.all)}`);
    const t2 = performance.now();
    const contextBytes = (await stat(join(ctxDir, 'rootfs.tar'))).size;
    const inspect = await docker(['image', 'inspect', '--format', '{{.Size}}', tag]);
    const history = await docker(['history', '--no-trunc', '--format', '{{.Size}}\t{{.CreatedBy}}', '--human=false', tag]);
    const info = await docker(['info', '--format', '{{.Driver}}\t{{.ServerVersion}}']);
    const [storageDriver = '', dockerVersion = ''] = info.stdout.trim().split('\t');
    return {
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
  } finally {
    await removeCtx();
  }
}

/** Remove an image by tag (its layers stay where another image still uses them). */
export async function removeImage(tag: string): Promise<void> {
  const r = await docker(['rmi', '--force', tag], 120_000);
  if (r.exitCode !== 0 && !/No such image/i.test(r.all ?? '')) throw new Error(`docker rmi ${tag} failed: ${tail(r.all, 2)}`);
}

/** The image of this root filesystem: cached, or built through the Dockerfile once. Stale harness images are removed. */
async function ensureImage(rootfsDir: string, log: (line: string) => void): Promise<ImageFacts> {
  const tag = imageTag(rootfsDir);
  const cached = readImageFacts(rootfsDir);
  if (cached && (await docker(['image', 'inspect', tag])).exitCode === 0) return cached;
  log(`building docker image ${tag} from ${rootfsDir} (once; about a minute)`);
  const facts = await buildImage(rootfsDir, tag, join(IMAGE_CACHE, `build-${process.pid}`), log);
  writeFileAtomic(imageFactsPath(rootfsDir), JSON.stringify(facts, null, 2) + '\n');
  log(`docker image ${tag}: ${(facts.imageBytes / 1e6).toFixed(0)} MB, built in ${facts.buildSeconds.toFixed(1)} s (tar ${facts.tarSeconds.toFixed(1)} s, docker build ${facts.dockerBuildSeconds.toFixed(1)} s)`);
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
  /** A fresh host directory (same disk as docker's layers) bind-mounted here, when asked for. */
  readonly plainDir?: string;
  private readonly plainHost?: string;
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
  private paused = false;
  private undo?: () => Promise<void>;
  private readonly container: string;

  constructor(readonly spec: GuestSpec) {
    this.container = containerName(spec.name);
    if (spec.plainDir) {
      this.plainDir = PLAIN_DIR;
      this.plainHost = join(PLAIN_HOST_DIR, spec.name);
    }
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
    if (this.plainHost) await mkdir(this.plainHost, { recursive: true });
    const spec = this.plainHost ? { ...this.spec, shares: [...this.spec.shares, { host: this.plainHost, guest: PLAIN_DIR, readonly: false }] } : this.spec;
    const { args, direct } = dockerRunArgs({ spec, image, cgroupVersion: layout.version, ceilingBytes: memoryCeiling(this.spec) });
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

  /** Its writable layer (overlay2's upper directory; the shared image's layers are not counted), plus its private image's layer. */
  async diskBytes(): Promise<number> {
    const r = await docker(['inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', this.container]);
    const upper = r.stdout.trim();
    if (r.exitCode !== 0 || !upper.startsWith('/')) throw new Error(`container ${this.container}: no writable layer to measure: ${tail(r.all, 2)}`);
    return (await treeUsageBytes(upper)) + (this.spec.image === 'private' ? await topLayerBytes(privateImageTag(this.name)) : 0);
  }

  /** `docker pause`: runc freezes the container's cgroup and returns once it is frozen. */
  async pause(): Promise<void> {
    const r = await docker(['pause', this.container], 30_000);
    if (r.exitCode !== 0) throw new Error(`docker pause ${this.container} failed: ${tail(r.all, 2)}`);
    this.paused = true;
  }

  async resume(): Promise<void> {
    const r = await docker(['unpause', this.container], 30_000);
    if (r.exitCode !== 0) throw new Error(`docker unpause ${this.container} failed: ${tail(r.all, 2)}`);
    this.paused = false;
  }

  /** Kill everything but the container's init, so the guest stays usable (a paused guest is resumed first). */
  async killAll(): Promise<void> {
    if (this.paused) await this.resume();
    if (this.cgroupRel) await killCgroup(cgroupLayout(), this.cgroupRel, this.systemPids);
  }

  async oomKills(): Promise<number> {
    return this.cgroupRel ? (oomKillsOf(cgroupLayout(), this.cgroupRel) ?? 0) : 0;
  }

  private async teardown(): Promise<void> {
    // docker removes a paused container too, but unpausing first keeps runc's kill path the usual one
    if (this.paused) await docker(['unpause', this.container], 30_000);
    this.paused = false;
    await removeContainer(this.container);
    if (this.plainHost) await rm(this.plainHost, { recursive: true, force: true });
    if (this.spec.image === 'private') await removeImage(privateImageTag(this.name));
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

let capabilities: Promise<Capabilities> | undefined;

/**
 * Pause: docker pause, i.e. runc on the kernel's freezer (probed on a process). Checkpoints:
 * `docker checkpoint` needs CRIU and the daemon's experimental mode, and is not driven by the
 * harness; the verdict says which of these stands in the way first.
 */
async function dockerCapabilities(): Promise<Capabilities> {
  const [pause, criu] = await Promise.all([freezerVerdict(), criuVerdict()]);
  const pauseCap: Capability = pause.ok ? { ok: true, how: `docker pause/unpause: runc on the ${freezerHow(cgroupLayout())}` } : pause;
  let reason: string;
  if (!criu.ok) reason = criu.reason ?? 'CRIU does not work here';
  else {
    const exp = existsSync(DOCKER) ? await docker(['version', '--format', '{{.Server.Experimental}}'], 15_000) : undefined;
    reason =
      exp?.stdout.trim() === 'true'
        ? 'docker checkpoint/restore is not driven by the harness yet (CRIU works here: lxc has it)'
        : "docker checkpoint needs dockerd's experimental mode, which is off or unknown (the harness leaves the daemon's configuration alone)";
  }
  const no: Capability = { ok: false, reason };
  return { pause: pauseCap, checkpoint: no, migrate: no, clone: no };
}

let image: string | undefined;
let rootfs: string | undefined;
let parentsUndo: (() => Promise<void>) | undefined;

const dockerDriver: Driver = {
  name: 'docker',
  description: "Docker containers (Debian's docker.io) from an image built locally from the cached Debian rootfs",
  // criu: what docker checkpoint would need; installed so that the capabilities probe can say what CRIU does here
  hostPackages: ['docker.io', 'iproute2', 'util-linux', 'criu'],
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
    rootfs = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
    await ensureDaemon(ctx.log);
    // registered before any container, so it runs after the last one is gone
    parentsUndo ??= onCleanup('harness cgroup in the hierarchies runc also uses', () => {
      parentsUndo = undefined;
      removeOtherParents();
    });
    image = (await ensureImage(rootfs, ctx.log)).tag;
  },
  capabilities() {
    capabilities ??= dockerCapabilities();
    return capabilities;
  },
  async guestDiskRoom() {
    // containers' writable layers are under the daemon's data root: a running daemon's own, else the default of the one the harness starts
    const r = existsSync(DOCKER) ? await docker(['info', '--format', '{{.DockerRootDir}}'], 10_000) : undefined;
    const root = r?.exitCode === 0 && r.stdout.trim().startsWith('/') ? r.stdout.trim() : '/var/lib/docker';
    return diskRoom(root);
  },
  async provision(spec: GuestSpec, ctx: RunContext) {
    if (!image || !rootfs) throw new Error('docker driver used before prepare()');
    const guest = new DockerGuest(spec);
    try {
      // private: its own image (made by copyImage before the launch, else now)
      if (spec.image === 'private' && (await docker(['image', 'inspect', privateImageTag(spec.name)])).exitCode !== 0) await importPrivateImage(rootfs, spec.name, ctx.signal);
      await guest.start(spec.image === 'private' ? privateImageTag(spec.name) : image);
    } catch (err) {
      await guest.destroy();
      throw err;
    }
    return guest;
  },
  async copyImage(spec: GuestSpec, ctx: RunContext): Promise<ImageCopy> {
    if (!rootfs) throw new Error('docker driver used before prepare()');
    const tag = privateImageTag(spec.name);
    // an image no container was started on is removed at the end at the latest; sweep finds it after a crash
    const remove = onCleanup(`docker private image ${tag}`, () => removeImage(tag));
    const t0 = performance.now();
    try {
      await importPrivateImage(rootfs, spec.name, ctx.signal);
    } catch (err) {
      await remove();
      throw err;
    }
    return { bytes: await topLayerBytes(tag), seconds: (performance.now() - t0) / 1000, remove };
  },
  async imageCopyTarget(guestPackages: string[]) {
    const facts = readImageFacts(rootfsPath(recipeFor(guestPackages)));
    return { dir: '/var/lib/docker', ...(facts ? { bytes: facts.imageBytes } : {}) };
  },
  async sweep() {
    const found: string[] = [];
    if (existsSync(PLAIN_HOST_DIR)) {
      for (const n of readdirSync(PLAIN_HOST_DIR)) found.push(`docker plain directory ${join(PLAIN_HOST_DIR, n)}`);
      await rm(PLAIN_HOST_DIR, { recursive: true, force: true });
    }
    // a daemon killed with the harness leaves its containers to its shims: starting it again stops them
    const leftDaemon = harnessDaemonPid();
    let started: number | undefined;
    if (!(await daemonAnswers())) {
      // private images a killed run left are only removed through a daemon: one is started for them too
      if ((!existsSync(DOCKER_STATE) && privateImagesOnDisk().length === 0) || !existsSync(DOCKERD)) return found;
      started = await startDaemon(() => undefined).catch(() => undefined);
    }
    const ps = await docker(['ps', '--all', '--format', '{{.Names}}']);
    for (const name of ps.stdout.split('\n').filter((n) => n.startsWith(CONTAINER_PREFIX))) {
      await removeContainer(name).catch(() => undefined);
      found.push(`docker container ${name}`);
    }
    // images a killed `image` experiment built, and private storm images a killed run left
    const tags = await Promise.all([BUILD_PROBE_REPO, PRIVATE_REPO].map((repo) => docker(['images', repo, '--format', '{{.Repository}}:{{.Tag}}'])));
    for (const tag of tags.flatMap((r) => r.stdout.split('\n')).filter(Boolean)) {
      await removeImage(tag).catch(() => undefined);
      found.push(`docker image ${tag}`);
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
    found.push(...(await sweepCriuProbe()));
    found.push(...(await sweepBridge()));
    return found;
  },
};

export default dockerDriver;
