// cgroup v1 and v2, detected at run time. One mapping from a GuestSpec to cgroup files serves
// bare metal (files written by the harness) and LXC (the same pairs as lxc.cgroup[2].* keys), so
// both platforms get exactly the same limits.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { GuestCgroupPaths, GuestSpec, GuestUsage } from '../core/types.ts';

export type CgroupVersion = 1 | 2;

export interface CgroupLayout {
  version: CgroupVersion;
  /** v1: controller -> mount point; v2: every controller maps to the unified mount. */
  mounts: Record<string, string>;
  /**
   * v1 hosts with a v2 hierarchy mounted beside (systemd's hybrid layout): its mount point. It has no
   * controllers, but every group in it has PSI files, so guests also join a group there.
   */
  unified?: string;
}

export interface CgroupSetting {
  controller: string;
  file: string;
  value: string;
}

/** Controllers the harness uses; v1 needs each of them mounted. */
export const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'blkio', 'pids', 'freezer'] as const;
const V2_CONTROLLERS = ['cpu', 'cpuset', 'memory', 'io', 'pids'];

/** Parse /proc/self/mountinfo text into a layout; v1 wins where its controllers are mounted (hybrid hosts). */
export function parseMountinfo(text: string): CgroupLayout {
  const v1: Record<string, string> = {};
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    const fstype = right[0];
    if (!mountPoint) continue;
    if (fstype === 'cgroup2') {
      if (v2 === undefined || mountPoint === '/sys/fs/cgroup') v2 = mountPoint;
    } else if (fstype === 'cgroup') {
      for (const opt of (right[2] ?? '').split(',')) {
        if ((CONTROLLERS as readonly string[]).includes(opt)) v1[opt] = mountPoint;
      }
    }
  }
  if (Object.keys(v1).length > 0) return v2 === undefined ? { version: 1, mounts: v1 } : { version: 1, mounts: v1, unified: v2 };
  if (v2 !== undefined) {
    const mounts: Record<string, string> = {};
    for (const c of [...CONTROLLERS, 'io']) mounts[c] = v2;
    return { version: 2, mounts };
  }
  return { version: 1, mounts: {} };
}

let cached: CgroupLayout | undefined;
export function cgroupLayout(): CgroupLayout {
  cached ??= parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  return cached;
}

/** v1 cpu.shares to v2 cpu.weight, proportionally so that the defaults match (1024 -> 100), as systemd maps them. */
export function sharesToWeight(shares: number): number {
  return Math.max(1, Math.min(10000, Math.round((shares * 100) / 1024)));
}

export const CFS_PERIOD_US = 100_000;
/** The kernel refuses a CFS quota below 1 ms per period. */
const MIN_QUOTA_US = 1000;

/**
 * The CFS quota of a spec per CFS_PERIOD_US, or undefined for no cap: `cpuQuota` of its vCPUs when
 * set; policy 'quota' without one caps at `vcpus` full CPUs (the plan's C/k CPUs per tenant).
 */
export function quotaMicros(spec: Pick<GuestSpec, 'cpuQuota' | 'cpuPolicy' | 'vcpus'>): number | undefined {
  const fraction = spec.cpuQuota ?? (spec.cpuPolicy === 'quota' ? 1 : undefined);
  if (fraction === undefined) return undefined;
  if (!(fraction > 0) || !(spec.vcpus > 0)) throw new Error(`a CFS quota needs a positive fraction and vCPUs (got ${fraction} of ${spec.vcpus})`);
  return Math.max(MIN_QUOTA_US, Math.round(fraction * spec.vcpus * CFS_PERIOD_US));
}

/**
 * The cgroup files that express a spec. Soft memory limit: v1 soft_limit_in_bytes (reclaimed
 * first under pressure), v2 memory.low (protected up to the size, may use more). A soft-limited
 * guest still gets a hard safety ceiling (`ceilingBytes`) so that no tenant can exhaust the host.
 */
export function settingsFor(spec: GuestSpec, version: CgroupVersion, ceilingBytes: number): CgroupSetting[] {
  const s: CgroupSetting[] = [];
  const cpus = spec.cpus.join(',');
  const hard = spec.memoryLimit === 'hard';
  const quotaUs = quotaMicros(spec);
  if (version === 1) {
    s.push({ controller: 'cpuset', file: 'cpuset.cpus', value: cpus });
    s.push({ controller: 'cpu', file: 'cpu.shares', value: String(spec.cpuShares) });
    if (quotaUs !== undefined) {
      s.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(CFS_PERIOD_US) });
      s.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(quotaUs) });
    }
    s.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(hard ? spec.memoryBytes : ceilingBytes) });
    if (!hard) s.push({ controller: 'memory', file: 'memory.soft_limit_in_bytes', value: String(spec.memoryBytes) });
    s.push({ controller: 'blkio', file: 'blkio.bfq.weight', value: String(spec.ioWeight) });
    s.push({ controller: 'pids', file: 'pids.max', value: String(spec.pidsMax) });
  } else {
    s.push({ controller: 'cpuset', file: 'cpuset.cpus', value: cpus });
    s.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(spec.cpuShares)) });
    if (quotaUs !== undefined) s.push({ controller: 'cpu', file: 'cpu.max', value: `${quotaUs} ${CFS_PERIOD_US}` });
    s.push({ controller: 'memory', file: 'memory.max', value: String(hard ? spec.memoryBytes : ceilingBytes) });
    if (!hard) s.push({ controller: 'memory', file: 'memory.low', value: String(spec.memoryBytes) });
    // in an arena the guest may swap within the arena's own swap bound (memory overcommit is
    // reclaimed there); elsewhere no swap, as on v1 hosts without swap
    if (!spec.arena) s.push({ controller: 'memory', file: 'memory.swap.max', value: '0' });
    s.push({ controller: 'io', file: 'io.bfq.weight', value: String(spec.ioWeight) });
    s.push({ controller: 'pids', file: 'pids.max', value: String(spec.pidsMax) });
  }
  return s;
}

/** The harness's own parent group in every hierarchy. */
export const HARNESS_GROUP = process.env.VIRTBENCH_CGROUP ?? 'virtbench';

export function dirFor(layout: CgroupLayout, controller: string, rel: string): string | undefined {
  const mount = layout.mounts[controller];
  return mount === undefined ? undefined : join(mount, rel);
}

function uniqueDirs(layout: CgroupLayout, rel: string, controllers: readonly string[]): string[] {
  const dirs = controllers.map((c) => dirFor(layout, c, rel)).filter((d): d is string => d !== undefined);
  return [...new Set(dirs)];
}

/** The directories of a harness group: one per v1 hierarchy plus the hybrid v2 one, or the v2 one. */
export function harnessDirs(layout: CgroupLayout, rel: string): string[] {
  if (layout.version === 2) return uniqueDirs(layout, rel, ['cpu']);
  return [...uniqueDirs(layout, rel, CONTROLLERS), ...(layout.unified ? [join(layout.unified, rel)] : [])];
}

/** Where monitors read a group's PSI, memory, CPU and I/O (see GuestCgroupPaths). */
export function cgroupPathsFor(layout: CgroupLayout, rel: string, unifiedRel = rel): GuestCgroupPaths {
  if (layout.version === 2) {
    const d = dirFor(layout, 'cpu', rel);
    return { version: 2, psi: d, memory: d, io: d, cpu: d };
  }
  return {
    version: 1,
    psi: layout.unified ? join(layout.unified, unifiedRel) : undefined,
    memory: dirFor(layout, 'memory', rel),
    io: dirFor(layout, 'blkio', rel),
    cpu: dirFor(layout, 'cpuacct', rel),
  };
}

function readTrim(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

let parentRegistered = false;

/** Create the harness parent group; v1 cpuset needs cpus/mems copied down, v2 needs controllers delegated. */
export function ensureHarnessGroup(layout = cgroupLayout()): void {
  if (!parentRegistered) {
    parentRegistered = true;
    // registered first, so removed last: after every guest group below it is gone
    onCleanup('harness cgroup', async () => {
      parentRegistered = false;
      await removeTree(harnessDirs(layout, HARNESS_GROUP));
    });
  }
  if (layout.version === 1) {
    if (layout.unified) {
      try {
        mkdirSync(join(layout.unified, HARNESS_GROUP), { recursive: true });
      } catch {
        layout.unified = undefined; // a read-only v2 mount: no per-guest PSI, said by the monitors' manifest entry
      }
    }
    for (const dir of harnessDirs(layout, HARNESS_GROUP)) mkdirSync(dir, { recursive: true });
    const cpuset = dirFor(layout, 'cpuset', HARNESS_GROUP);
    const root = layout.mounts.cpuset;
    if (cpuset && root) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (!readTrim(join(cpuset, f))) writeFileSync(join(cpuset, f), readTrim(join(root, f)) ?? '0');
      }
      // groups others make below it (LXC's monitor and arena containers) start with its CPUs and nodes
      if (existsSync(join(cpuset, 'cgroup.clone_children'))) writeFileSync(join(cpuset, 'cgroup.clone_children'), '1');
    }
  } else {
    const root = layout.mounts.cpu!;
    const want = V2_CONTROLLERS.filter((c) => (readTrim(join(root, 'cgroup.controllers')) ?? '').split(' ').includes(c));
    enableSubtree(root, want);
    mkdirSync(join(root, HARNESS_GROUP), { recursive: true });
    enableSubtree(join(root, HARNESS_GROUP), want);
  }
}

/** v2: the controllers the harness group delegates further (to an arena). */
export function delegatedControllers(layout: CgroupLayout): string[] {
  const root = layout.mounts.cpu;
  if (layout.version !== 2 || !root) return [];
  return V2_CONTROLLERS.filter((c) => (readTrim(join(root, 'cgroup.controllers')) ?? '').split(' ').includes(c));
}

export function enableSubtree(dir: string, controllers: string[]): void {
  for (const c of controllers) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
    } catch {
      /* a controller the host does not delegate: its settings are reported as not applied */
    }
  }
}

/** A cgroup the harness made (in every hierarchy it uses), for a bare-metal guest. */
export class HarnessCgroup {
  readonly layout: CgroupLayout;
  readonly rel: string;
  /** Settings that this kernel does not offer (e.g. bfq weight without the bfq scheduler). */
  readonly notApplied: CgroupSetting[] = [];

  /** `arena`: the harness arena (drivers/arena.ts) this group goes under; it must exist already. */
  constructor(name: string, layout = cgroupLayout(), readonly arena?: string) {
    this.layout = layout;
    this.rel = guestGroupRel(name, arena);
  }

  /** The parent group: the arena, or the harness group. */
  get parentRel(): string {
    return this.arena ? join(HARNESS_GROUP, this.arena) : HARNESS_GROUP;
  }

  dirs(): string[] {
    return harnessDirs(this.layout, this.rel);
  }

  paths(): GuestCgroupPaths {
    return cgroupPathsFor(this.layout, this.rel);
  }

  /** cgroup.procs files a new process must join (one per v1 hierarchy). */
  procsFiles(): string[] {
    return this.dirs().map((d) => join(d, 'cgroup.procs'));
  }

  create(spec: GuestSpec, ceilingBytes: number): void {
    ensureHarnessGroup(this.layout);
    if (this.arena) {
      const missing = harnessDirs(this.layout, this.parentRel).filter((d) => !existsSync(d));
      if (missing.length) throw new Error(`guest ${spec.name}: its arena ${this.arena} does not exist (${missing[0]})`);
    }
    for (const d of this.dirs()) mkdirSync(d, { recursive: true });
    if (this.layout.version === 1) {
      const cpuset = dirFor(this.layout, 'cpuset', this.rel)!;
      const parentMems = readTrim(join(dirFor(this.layout, 'cpuset', this.parentRel)!, 'cpuset.mems')) ?? '0';
      writeFileSync(join(cpuset, 'cpuset.mems'), parentMems);
    }
    for (const st of settingsFor(spec, this.layout.version, ceilingBytes)) {
      const d = dirFor(this.layout, st.controller, this.rel);
      const file = d && join(d, st.file);
      if (!file || !existsSync(file)) {
        this.notApplied.push(st);
        continue;
      }
      writeFileSync(file, st.value);
    }
  }

  pids(): number[] {
    return pidsIn(this.dirs());
  }

  async killAll(except: number[] = []): Promise<void> {
    await killCgroup(this.layout, this.rel, except);
  }

  usage(): GuestUsage {
    return cgroupUsage(this.layout, this.rel);
  }

  oomKills(): number {
    return oomKillsOf(this.layout, this.rel) ?? 0;
  }

  async destroy(): Promise<void> {
    await this.killAll();
    await removeTree(this.dirs());
  }
}

/** Every cgroup hierarchy mounted here, v1 ones the harness does not use too (LXC and runc create groups there). */
export function allCgroupMounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && mountPoint) out.push(mountPoint);
  }
  return [...new Set(out)];
}

/** Remove a group in every hierarchy where it exists (best effort: a busy one stays for the harness group's removal). */
export async function removeEverywhere(rel: string): Promise<void> {
  for (const m of allCgroupMounts()) {
    const d = join(m, rel);
    if (existsSync(d)) await removeTree([d]).catch(() => undefined);
  }
}

/** A guest's group under the harness group, or under its arena there. */
export function guestGroupRel(name: string, arena?: string): string {
  return arena ? join(HARNESS_GROUP, arena, name) : join(HARNESS_GROUP, name);
}

/** The `oom_kill N` line of v1 memory.oom_control or v2 memory.events. */
export function parseOomKill(text: string): number | undefined {
  const m = text.match(/^oom_kill (\d+)$/m);
  return m ? Number(m[1]) : undefined;
}

/**
 * OOM kills in a group and below it so far, or undefined where the kernel does not say. v2's
 * memory.events counts its subtree; v1's memory.oom_control counts only the group's own tasks
 * (the kernel does not propagate events on v1), so the subtree's counts are summed there.
 */
export function oomKillsOf(layout: CgroupLayout, rel: string): number | undefined {
  const d = dirFor(layout, 'memory', rel);
  if (!d) return undefined;
  if (layout.version === 2) {
    const text = readTrim(join(d, 'memory.events'));
    return text === undefined ? undefined : parseOomKill(text);
  }
  const own = (dir: string): number | undefined => {
    const text = readTrim(join(dir, 'memory.oom_control'));
    return text === undefined ? undefined : parseOomKill(text);
  };
  const total = own(d);
  if (total === undefined) return undefined;
  let sum = total;
  const walk = (dir: string) => {
    for (const s of subdirs(dir)) {
      sum += own(s) ?? 0;
      walk(s);
    }
  };
  walk(d);
  return sum;
}

export function pidsIn(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) {
    const text = readTrim(join(d, 'cgroup.procs'));
    if (!text) continue;
    for (const p of text.split('\n')) if (p) pids.add(Number(p));
  }
  return [...pids];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Kill every process of a cgroup (recursively), except `except`. Freezing first makes this
 * reliable against a fork bomb: frozen tasks cannot fork while they are being killed.
 */
export async function killCgroup(layout: CgroupLayout, rel: string, except: number[] = []): Promise<void> {
  const all = [...CONTROLLERS, 'io'];
  const dirs = uniqueDirs(layout, rel, all).filter((d) => existsSync(d));
  if (dirs.length === 0) return;
  const keep = new Set(except);
  const freezeFile =
    layout.version === 1 ? join(dirFor(layout, 'freezer', rel) ?? '', 'freezer.state') : join(dirs[0]!, 'cgroup.freeze');
  const canFreeze = existsSync(freezeFile);
  for (let round = 0; round < 50; round++) {
    const victims = treePids(dirs).filter((p) => !keep.has(p));
    if (victims.length === 0) break;
    if (canFreeze) writeFileSync(freezeFile, layout.version === 1 ? 'FROZEN' : '1');
    for (const p of victims) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (canFreeze) writeFileSync(freezeFile, layout.version === 1 ? 'THAWED' : '0');
    await sleep(round < 5 ? 20 : 100);
  }
  const left = treePids(dirs).filter((p) => !keep.has(p));
  if (left.length > 0) throw new Error(`could not kill ${left.length} processes in cgroup ${rel}`);
}

/** Every process in a cgroup tree (all hierarchies). */
export function cgroupPids(layout: CgroupLayout, rel: string): number[] {
  return treePids(uniqueDirs(layout, rel, [...CONTROLLERS, 'io']).filter((d) => existsSync(d)));
}

function subdirs(d: string): string[] {
  try {
    return readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(d, e.name));
  } catch {
    return [];
  }
}

function treePids(dirs: string[]): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    out.push(...pidsIn([d]));
    for (const s of subdirs(d)) walk(s);
  };
  for (const d of dirs) walk(d);
  return [...new Set(out)];
}

/** rmdir a cgroup tree bottom-up; an empty cgroup can take a moment to become removable. */
export async function removeTree(dirs: string[]): Promise<void> {
  const rm = (d: string) => {
    for (const s of subdirs(d)) rm(s);
    rmdirSync(d);
  };
  for (const d of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        if (existsSync(d)) rm(d);
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(50);
      }
    }
  }
}

/**
 * Memory a group's processes hold, page cache they do not map left out (issue 12's "memory in use",
 * what a container migration has to move): v1 total_rss + total_mapped_file (its subtree), v2
 * anon + file_mapped. Undefined when memory.stat lacks them.
 */
export function memoryInUse(memoryStat: string, version: CgroupVersion): number | undefined {
  const field = (name: string) => {
    const m = memoryStat.match(new RegExp(`^${name} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : undefined;
  };
  const [a, b] = version === 1 ? [field('total_rss'), field('total_mapped_file')] : [field('anon'), field('file_mapped')];
  return a === undefined || b === undefined ? undefined : a + b;
}

export function cgroupUsage(layout: CgroupLayout, rel: string): GuestUsage {
  const num = (controller: string, file: string) => {
    const d = dirFor(layout, controller, rel);
    const t = d && readTrim(join(d, file));
    return t === undefined || t === '' ? undefined : Number(t);
  };
  if (layout.version === 1) {
    const ns = num('cpuacct', 'cpuacct.usage');
    const stat = readTrim(join(dirFor(layout, 'memory', rel) ?? '', 'memory.stat'));
    return {
      memoryBytes: num('memory', 'memory.usage_in_bytes'),
      memoryInUseBytes: stat === undefined ? undefined : memoryInUse(stat, 1),
      cpuSeconds: ns === undefined ? undefined : ns / 1e9,
      pids: num('pids', 'pids.current'),
    };
  }
  const d = dirFor(layout, 'cpu', rel);
  const stat = d ? readTrim(join(d, 'cpu.stat')) : undefined;
  const usec = stat?.match(/usage_usec (\d+)/)?.[1];
  const memStat = d ? readTrim(join(d, 'memory.stat')) : undefined;
  return {
    memoryBytes: num('memory', 'memory.current'),
    memoryInUseBytes: memStat === undefined ? undefined : memoryInUse(memStat, 2),
    cpuSeconds: usec === undefined ? undefined : Number(usec) / 1e6,
    pids: num('pids', 'pids.current'),
  };
}

/** Where monitors read a process's groups (a container's init): its v1 memory group, and its '0::' group for PSI. */
export function cgroupPathsOfPid(pid: number, layout = cgroupLayout()): GuestCgroupPaths | undefined {
  const rel = cgroupOf(pid, 'memory', layout);
  if (rel === undefined) return undefined;
  if (layout.version === 2) return cgroupPathsFor(layout, rel);
  const text = readTrim(`/proc/${pid}/cgroup`) ?? '';
  const unifiedRel = text.match(/^0::\/(.*)$/m)?.[1];
  const paths = cgroupPathsFor(layout, rel, unifiedRel ?? '');
  // a process left in the v2 root would report the whole host's pressure as its own
  return unifiedRel ? paths : { ...paths, psi: undefined };
}

/** Relative cgroup path of a process in a given controller's hierarchy (v2: the '0::' line). */
export function cgroupOf(pid: number, controller: string, layout = cgroupLayout()): string | undefined {
  const text = readTrim(`/proc/${pid}/cgroup`);
  if (!text) return undefined;
  for (const line of text.split('\n')) {
    const [, ctrls, path] = line.match(/^\d+:([^:]*):(.*)$/) ?? [];
    if (ctrls === undefined || path === undefined) continue;
    if (layout.version === 2 ? ctrls === '' : ctrls.split(',').includes(controller)) return path.replace(/^\//, '');
  }
  return undefined;
}

/** Groups a crashed earlier run left under the harness parent group. */
export async function sweepHarnessGroups(layout = cgroupLayout()): Promise<string[]> {
  const found: string[] = [];
  for (const d of harnessDirs(layout, HARNESS_GROUP)) {
    for (const s of subdirs(d)) {
      const rel = join(HARNESS_GROUP, s.slice(d.length + 1));
      await killCgroup(layout, rel);
      await removeTree([s]);
      found.push(`cgroup ${s}`);
    }
  }
  return found;
}

/**
 * The shell form of killCgroup, for a watchdog that runs after the harness died: freeze the
 * group, SIGKILL every process in its tree, thaw, until it is empty (a frozen fork bomb cannot
 * fork while it is killed). Plain sh, cat, find and kill: nothing of the harness needed.
 */
export function killCgroupScript(layout: CgroupLayout, rel: string): string {
  const dirs = uniqueDirs(layout, rel, [...CONTROLLERS, 'io']);
  const freeze = layout.version === 1 ? join(dirFor(layout, 'freezer', rel) ?? '', 'freezer.state') : join(dirs[0] ?? '', 'cgroup.freeze');
  const [frozen, thawed] = layout.version === 1 ? ['FROZEN', 'THAWED'] : ['1', '0'];
  return [
    `i=0; while [ $i -lt 100 ]; do i=$((i + 1))`,
    shellLine`  p=$(find ${dirs} -name cgroup.procs -exec cat {} + 2>/dev/null)`,
    `  [ -z "$p" ] && break`,
    shellLine`  [ -f ${freeze} ] && echo ${frozen} > ${freeze}`,
    `  kill -9 $p 2>/dev/null`,
    shellLine`  [ -f ${freeze} ] && echo ${thawed} > ${freeze}`,
    `  sleep 0.1`,
    `done`,
  ].join('\n');
}
