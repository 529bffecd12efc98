// lxcvm: containers nested in a VM (Section 7.1 and Figure 12 of the study). One VM sized for the
// run's tenants boots on the first provision of a run (a kvm guest whose image also has LXC); the
// target, its neighbour and any extra tiers are LXC containers inside it, made exactly like the
// lxc driver's (same config builder, same root filesystem: the host's cache directory is shared
// read-only into the VM over virtio-9p, each container an overlay with its upper layer on the
// VM's disk). The VM goes away with its last container. Limits: the VM as a whole is bounded on
// the host (its QEMU cgroup, hard); each container gets the cell's limits inside the VM.
import { execa } from 'execa';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { UnavailableError } from '../core/errors.ts';
import { CACHE_DIR, memoryCeiling } from '../core/host.ts';
import { PROFILES } from '../core/profiles.ts';
import { quoteSh, shellLine } from '../core/shell-quote.ts';
import type { Accel, Capabilities, Driver, ExecOptions, ExecResult, Guest, GuestProcess, GuestSpec, GuestUsage, PrepareContext, ProfileName, RunContext, ProbeOptions } from '../core/types.ts';
import { ensureBridge } from './bridge.ts';
import { GUEST_ENV, GuestCommandError, withContext } from './guest-process.ts';
import kvm, { KvmGuest, ensureBootImages, sweepVms } from './kvm.ts';
import { lxcConfig } from './lxc.ts';
import { ensureRootfs, recipeFor } from './rootfs.ts';
import { ensureDiskImage } from './vm-image.ts';

/** LXC's container path inside the VM, on its disk. */
const CT_PATH = '/var/lib/vbct';
/** The VM's bridge: its own harness address moves there, and every container's veth joins it. */
const VM_BRIDGE = 'vbbr';
/** Guests a run may place in the VM: target, neighbour and up to two extra tiers (RUBiS). */
const TENANTS = 4;
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The VM's size: every host CPU (tenants are pinned inside it to the CPUs the runner gave them) and TENANTS guests' memory. */
export function vmSpecFor(first: GuestSpec, hostCpus: number, hostMemory: number, name: string): GuestSpec {
  return {
    name,
    vcpus: hostCpus,
    cpus: Array.from({ length: hostCpus }, (_, i) => i),
    cpuPolicy: 'cpuset',
    cpuShares: 1024,
    memoryBytes: Math.min(TENANTS * first.memoryBytes, Math.floor((hostMemory * 0.75) / (64 * 1024 ** 2)) * 64 * 1024 ** 2),
    memoryLimit: 'hard',
    ioWeight: 500,
    // QEMU's threads on the host; the tenants' own ceilings are applied inside the VM
    pidsMax: Math.max(first.pidsMax, 1024),
    network: true,
    // the root filesystem and every workload's host-side cache are under CACHE_DIR, at the same path inside
    shares: [{ host: CACHE_DIR, guest: CACHE_DIR, readonly: true }],
    // an overcommitted cell's VM (its QEMU) lives in the harness arena, as kvm's VMs do
    ...(first.arena ? { arena: first.arena } : {}),
  };
}

const GiB64 = 64 * 1024 ** 2;

/**
 * The VM of a multi-tenant cell (Figure 12): the summed vCPUs and memory of the tenants' specs
 * (N x V vCPUs multiplexed on the host CPUs, N x G memory), in the tenants' arena.
 */
export function tenantsVmSpec(specs: GuestSpec[], hostCpus: number, name: string): GuestSpec {
  const first = specs[0];
  if (!first) throw new Error('lxcvm: no tenants to provision');
  const base = vmSpecFor(first, hostCpus, Number.MAX_SAFE_INTEGER, name);
  const memory = specs.reduce((s, x) => s + x.memoryBytes, 0);
  return {
    ...base,
    vcpus: specs.reduce((s, x) => s + x.vcpus, 0),
    memoryBytes: Math.ceil(memory / GiB64) * GiB64,
    pidsMax: Math.max(1024, specs.reduce((s, x) => s + x.pidsMax, 0)),
  };
}

/**
 * A tenant container in the VM of provisionTenants: soft-limited (the study's nested containers
 * share their VM's memory), on every vCPU of the VM unless pinned (cpuset keeps its CPUs).
 */
export function nestedTenantSpec(spec: GuestSpec, vmVcpus: number): GuestSpec {
  const cpus = spec.cpuPolicy === 'cpuset' ? spec.cpus : Array.from({ length: vmVcpus }, (_, i) => i);
  return tenantSpec({ ...spec, cpus, memoryLimit: 'soft' }, vmVcpus);
}

/** A container's limits inside the VM: its vCPU numbers are the host CPUs it was given (the VM has one vCPU per host CPU). */
export function tenantSpec(spec: GuestSpec, vmVcpus: number): GuestSpec {
  const bad = spec.cpus.filter((c) => c >= vmVcpus);
  if (bad.length) throw new UnavailableError(`lxcvm: CPUs ${bad.join(',')} requested but the VM has ${vmVcpus} vCPUs (the host has ${vmVcpus} CPUs)`);
  return spec;
}

interface TenantVm {
  vm: KvmGuest;
  users: number;
  /** cgroup v2 interface files the VM's kernel offers (io.bfq.weight only with bfq on its disk). */
  files: Set<string>;
}

let image: string | undefined;
let lower: string | undefined;
let accel: Accel | undefined;
let current: Promise<TenantVm> | undefined;
let vmSeq = 0;

function vmName(first: GuestSpec): string {
  return `${first.name.replace(/-[^-]*$/, '')}-vm${vmSeq++}`;
}

async function startVm(vmSpec: GuestSpec, ctx: RunContext): Promise<TenantVm> {
  if (!image || !accel) throw new Error('lxcvm driver used before prepare()');
  const vm = new KvmGuest(vmSpec, accel);
  try {
    await vm.start(image, ctx.log, ctx.signal);
    const net = await ensureBridge();
    const addr = vm.address()!;
    // the VM's address moves from eth0 to a bridge that the containers' veths join
    await vm.sh(
      [
        `ip link add ${VM_BRIDGE} type bridge`,
        `ip link set ${VM_BRIDGE} up`,
        'ip addr flush dev eth0',
        `ip link set eth0 master ${VM_BRIDGE}`,
        `ip addr add ${addr}/24 dev ${VM_BRIDGE}`,
        `ip route replace default via ${net.hostAddress}`,
        `mkdir -p ${CT_PATH}`,
      ].join(' && '),
      { timeoutMs: 30_000 },
    );
    // a non-root group shows which interface files the VM's kernel has
    const ls = await vm.sh('ls /sys/fs/cgroup/vb', { timeoutMs: 10_000 });
    return { vm, users: 0, files: new Set(ls.stdout.split('\n').filter(Boolean)) };
  } catch (err) {
    await vm.destroy();
    throw err;
  }
}

async function acquireVm(first: GuestSpec, ctx: RunContext): Promise<TenantVm> {
  current ??= startVm(vmSpecFor(first, cpus().length, totalmem(), vmName(first)), ctx).catch((err) => {
    current = undefined;
    throw err;
  });
  const t = await current;
  t.users++;
  return t;
}

async function releaseVm(t: TenantVm): Promise<void> {
  if (--t.users > 0) return;
  if (current && (await current.catch(() => undefined)) === t) current = undefined;
  await t.vm.destroy();
}

class NestedGuest implements Guest {
  readonly platform = 'lxcvm';
  readonly workdir = '/var/tmp/virtbench';
  readonly environment = GUEST_ENV;
  /** Provision start to container ready, seconds: includes the VM's boot when this guest started it. */
  bootSeconds?: number;
  private initPid = 0;
  private cgroup = '';
  private addr?: string;
  private undo?: () => Promise<void>;

  constructor(
    readonly spec: GuestSpec,
    private readonly t: TenantVm,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get accel(): Accel {
    return this.t.vm.accel;
  }

  get vm(): KvmGuest {
    return this.t.vm;
  }

  private get dir(): string {
    return `${CT_PATH}/${this.name}`;
  }

  async start(t0: number): Promise<void> {
    const vm = this.t.vm;
    this.undo = onCleanup(`lxcvm container ${this.name}`, () => this.teardown());
    const net = this.spec.network ? await ensureBridge() : undefined;
    this.addr = net?.allocate();
    const config = lxcConfig({
      spec: tenantSpec(this.spec, vm.spec.vcpus),
      rootfs: lower!,
      upper: `${this.dir}/upper`,
      cgroupVersion: 2,
      ceilingBytes: memoryCeiling(this.spec),
      availableFiles: (_c, file) => this.t.files.has(file),
      net: net && this.addr ? { bridge: VM_BRIDGE, address: this.addr, gateway: net.hostAddress } : undefined,
    });
    const outside = this.spec.shares.filter((s) => !s.host.startsWith(`${CACHE_DIR}/`) && s.host !== CACHE_DIR);
    if (outside.length) throw new UnavailableError(`lxcvm shares only directories under ${CACHE_DIR} into its VM, not ${outside.map((s) => s.host).join(', ')}`);
    const log = `${this.dir}/lxc.log`;
    const r = await vm.sh(
      [
        `mkdir -p ${this.dir}/upper`,
        `cat > ${this.dir}/config <<'VBEOF'\n${config}VBEOF`,
        `lxc-start -P ${CT_PATH} -n ${this.name} -d -o ${log} -l ERROR || { tail -3 ${log} >&2; exit 1; }`,
        `lxc-wait -P ${CT_PATH} -n ${this.name} -s RUNNING -t 30`,
        `lxc-info -P ${CT_PATH} -n ${this.name} -p -H`,
      ].join('\n'),
      { timeoutMs: 90_000, check: false },
    );
    if (r.exitCode !== 0) throw new Error(`lxc-start ${this.name} in VM ${vm.name} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`);
    this.initPid = Number(r.stdout.trim().split('\n').at(-1));
    const cg = await vm.sh(`sed -n 's/^0:://p' /proc/${this.initPid}/cgroup`, { timeoutMs: 10_000 });
    this.cgroup = `/sys/fs/cgroup${cg.stdout.trim()}`;
    await this.sh(`mkdir -p ${this.workdir}`, { timeoutMs: 30_000 });
    this.bootSeconds = (Date.now() - t0) / 1000;
  }

  /** The VM-side command that runs `script` in the container (env and cwd applied inside). */
  private attach(script: string, opts: Pick<ExecOptions, 'env' | 'cwd'>): string {
    const inner = withContext(script, opts);
    return shellLine`exec lxc-attach -P ${CT_PATH} -n ${this.name} --clear-env -v PATH=${PATH_ENV} -v HOME=/root -v LANG=C.UTF-8 -- bash -c ${inner}`;
  }

  async sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { env, cwd, check, ...rest } = opts;
    const r = await this.t.vm.sh(this.attach(script, { env, cwd }), { ...rest, check: false });
    // a timed-out or aborted command's processes live in the container, not under lxc-attach
    if (r.timedOut || opts.signal?.aborted) await this.killAll().catch(() => undefined);
    if ((check ?? true) && (r.exitCode !== 0 || r.timedOut)) throw new GuestCommandError(this.name, r, script);
    return r;
  }

  spawn(script: string, opts: Omit<ExecOptions, 'check'> = {}): GuestProcess {
    const { env, cwd, ...rest } = opts;
    return this.t.vm.spawn(this.attach(script, { env, cwd }), rest);
  }

  /** The container's files seen from the VM, through its init process. */
  private vmView(guestPath: string): string {
    return join(`/proc/${this.initPid}/root`, guestPath);
  }

  async pushFile(hostPath: string, guestPath: string): Promise<void> {
    await this.t.vm.pushFile(hostPath, this.vmView(guestPath));
  }

  async pullFile(guestPath: string, hostPath: string): Promise<void> {
    await this.t.vm.pullFile(this.vmView(guestPath), hostPath);
  }

  address(): string | undefined {
    return this.addr;
  }

  /** From outside, a nested container is seen through its VM: QEMU's group. */
  cgroupPaths() {
    return this.t.vm.cgroupPaths();
  }

  async usage(): Promise<GuestUsage> {
    const r = await this.t.vm.sh(shellLine`cd ${this.cgroup} && cat memory.current && sed -n 's/^usage_usec //p' cpu.stat && cat pids.current`, { timeoutMs: 10_000, check: false });
    const [mem, usec, pids] = r.stdout.trim().split('\n').map(Number);
    return { memoryBytes: mem, cpuSeconds: usec === undefined ? undefined : usec / 1e6, pids };
  }

  /** The container's directory on the VM's disk (its overlay upper layer, config and log; the rootfs below is the host's, shared over 9p). */
  async diskBytes(): Promise<number> {
    const r = await this.t.vm.sh(shellLine`du -s -B1 -x ${this.dir}`, { timeoutMs: 30_000 });
    return Number(r.stdout.split('\t')[0]);
  }

  /**
   * OOM kills in the container's group inside the VM (its memory.events), plus the VM's QEMU
   * killed on the host (which takes every container with it).
   */
  async oomKills(): Promise<number> {
    const host = this.t.vm.hostOomKills();
    if (!this.cgroup) return host;
    try {
      const r = await this.t.vm.sh(shellLine`sed -n 's/^oom_kill //p' ${this.cgroup}/memory.events`, { timeoutMs: 10_000, check: false });
      const n = Number(r.stdout.trim());
      return host + (r.exitCode === 0 && r.stdout.trim() !== '' && Number.isFinite(n) ? n : 0);
    } catch {
      return host;
    }
  }

  /** Kill everything in the container but its init (tini and its sleep), frozen so that a fork bomb cannot outrun it. */
  async killAll(): Promise<void> {
    if (!this.initPid || !this.cgroup) return;
    const script = `cg=${quoteSh(this.cgroup)}
keep=" ${this.initPid} $(pgrep -P ${this.initPid} | tr '\\n' ' ')"
for i in $(seq 100); do
  v=$(cat $(find "$cg" -name cgroup.procs) | while read -r p; do case "$keep" in *" $p "*) ;; *) echo "$p" ;; esac; done)
  [ -z "$v" ] && exit 0
  echo 1 > "$cg/cgroup.freeze"; kill -9 $v 2>/dev/null; echo 0 > "$cg/cgroup.freeze"
  sleep 0.05
done
echo "could not kill $(echo $v | wc -w) processes in ${this.name}" >&2; exit 1`;
    await this.t.vm.sh(script, { timeoutMs: 30_000 });
  }

  /**
   * The tenant container is frozen inside its VM (cgroup v2 cgroup.freeze), not the VM: the study
   * pauses a tenant, and the VM carries the other tenants. Resolves once the kernel says frozen.
   */
  async pause(): Promise<void> {
    await this.freeze(1);
  }

  async resume(): Promise<void> {
    await this.freeze(0);
  }

  private async freeze(v: 0 | 1): Promise<void> {
    if (!this.cgroup) throw new Error(`container ${this.name} is not running`);
    const script = shellLine`echo ${String(v)} > ${this.cgroup}/cgroup.freeze && for i in $(seq 200); do grep -qx ${`frozen ${v}`} ${this.cgroup}/cgroup.events && exit 0; sleep 0.05; done; echo "cgroup.events still says $(grep frozen ${this.cgroup}/cgroup.events) after 10 s" >&2; exit 1`;
    const r = await this.t.vm.sh(script, { timeoutMs: 30_000, check: false });
    if (r.exitCode !== 0) throw new Error(`could not ${v ? 'freeze' : 'thaw'} container ${this.name} in its VM: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
  }

  /** From outside: the tenants' VM is killed (the harness is gone or hung, so is the run). */
  watchdogScript(): string {
    return this.t.vm.watchdogScript();
  }

  private async teardown(): Promise<void> {
    try {
      // the last container goes with its VM (QEMU killed, disk overlay removed): nothing to stop inside,
      // which matters when a fork bomb beside it has the VM's kernel busy
      if (this.t.users <= 1) return;
      await this.t.vm.sh(`lxc-stop -P ${CT_PATH} -n ${this.name} -k >/dev/null 2>&1; rm -rf ${this.dir}`, { timeoutMs: 60_000, check: false });
    } catch {
      /* the VM is gone already: so is the container */
    } finally {
      await releaseVm(this.t);
    }
  }

  async destroy(): Promise<void> {
    await this.undo?.();
  }
}

const lxcvm: Driver = {
  name: 'lxcvm',
  description: 'LXC containers nested in one QEMU VM per run (the VM sized for the tenants, LXC inside)',
  noPrivateImage: 'lxcvm\'s containers share one VM and its root disk; a private copy per nested container is not implemented',
  hostPackages: kvm.hostPackages,
  // the study's nested containers share their VM by weight with soft memory limits (hard: --memory-limit hard)
  defaultLimits: { cpuPolicy: 'shares', memoryLimit: 'soft' },
  // containers inside the VM are pinned to its vCPUs, which float over the host's CPUs: no host
  // pinning, so no 'cpuset'
  cpuPolicies: ['shares', 'quota'],
  probe: (profile?: ProfileName, opts?: ProbeOptions) => kvm.probe(profile, opts),
  async prepare(ctx: PrepareContext) {
    const p = await kvm.probe(ctx.profile.name);
    if (!p.ok || !p.accel) throw new UnavailableError(p.reason ?? 'no accelerator boots a guest');
    accel = p.accel;
    await ensureBootImages(ctx.log);
    // the containers' root is the lxc driver's; the VM's own image adds LXC to it
    lower = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
    image = await ensureDiskImage(await ensureRootfs(recipeFor([...ctx.guestPackages, 'lxc']), ctx.log), ctx.log);
  },
  async provision(spec: GuestSpec, ctx: RunContext) {
    if (spec.plainDir) throw new UnavailableError('lxcvm cannot give a container a plain directory: its containers live on the VM disk and get only read-only shares of the host cache');
    const t0 = Date.now();
    const t = await acquireVm(spec, ctx);
    const guest = new NestedGuest(spec, t);
    try {
      await guest.start(t0);
    } catch (err) {
      await guest.destroy();
      throw err;
    }
    return guest;
  },
  /** One VM of the tenants' summed size running one soft-limited container per spec (Figure 12). */
  async provisionTenants(specs: GuestSpec[], ctx: RunContext) {
    const t0 = Date.now();
    const t = await startVm(tenantsVmSpec(specs, cpus().length, vmName(specs[0]!)), ctx);
    const guests: NestedGuest[] = [];
    try {
      for (const spec of specs) {
        t.users++;
        const g = new NestedGuest(nestedTenantSpec(spec, t.vm.spec.vcpus), t);
        guests.push(g);
        await g.start(t0);
      }
    } catch (err) {
      for (const g of guests.reverse()) await g.destroy().catch(() => undefined);
      throw err;
    }
    return guests;
  },
  sweep: () => sweepVms('kvm'),
  capabilities: (profile?: ProfileName) => (capabilities ??= probeCapabilities(profile)),
};

/** Why a nested container has no checkpoint, migration or clone here (one line). */
export const NESTED_NOT_MOVABLE =
  'lxcvm: moving one nested container needs CRIU inside the VM (not implemented); its whole VM is not it, and QEMU refuses to migrate that VM while the host cache is mounted over 9p';

let capabilities: Promise<Capabilities> | undefined;

/** Pause probed for real: a container in a VM frozen and thawed (a command runs after); the rest refused with the reason. */
async function probeCapabilities(profile?: ProfileName): Promise<Capabilities> {
  const refused = { ok: false, reason: NESTED_NOT_MOVABLE };
  const log = (l: string) => process.stderr.write(`lxcvm: ${l}\n`);
  const p = await lxcvm.probe(profile);
  if (!p.ok) {
    const no = { ok: false, reason: p.reason ?? 'lxcvm cannot run here' };
    return { pause: no, checkpoint: no, migrate: no, clone: no };
  }
  const ctx: RunContext = { profile: PROFILES[profile ?? 'smoke'], cacheDir: CACHE_DIR, guestPackages: [], log, signal: new AbortController().signal, timeoutS: 300, tiers: {} };
  if (!image) await lxcvm.prepare!(ctx);
  const n = cpus().length;
  const spec: GuestSpec = {
    name: `vbcaps${process.pid % 100000}-t0`, vcpus: 1, cpus: Array.from({ length: n }, (_, i) => i), cpuPolicy: 'shares', cpuShares: 1024,
    memoryBytes: 256 * 1024 ** 2, memoryLimit: 'soft', ioWeight: 500, pidsMax: 256, network: false, shares: [],
  };
  let pause: Capabilities['pause'];
  try {
    const g = await lxcvm.provision(spec, ctx);
    try {
      await g.pause!();
      await g.resume!();
      await g.sh('true', { timeoutMs: 30_000 });
      pause = { ok: true, how: `cgroup v2 freezer of the tenant container inside its VM${accel === 'tcg' ? ', TCG' : ''}` };
    } finally {
      await g.destroy();
    }
  } catch (err) {
    pause = { ok: false, reason: (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300) };
  }
  return { pause, checkpoint: refused, migrate: refused, clone: refused };
}

export default lxcvm;
