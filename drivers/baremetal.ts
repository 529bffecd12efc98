// Bare metal: the workload runs as host processes, but inside a cgroup of the harness with the
// same cpuset, shares, memory, io weight and pids limit a container would get, so that "bare
// metal" differs from LXC only in what LXC adds (namespaces, overlay rootfs, veth).
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { GUESTS_DIR, isRoot, memoryCeiling } from '../core/host.ts';
import type { Capabilities, Capability, Driver, ExecOptions, Guest, GuestSpec, RunContext } from '../core/types.ts';
import { sweepArenas } from './arena.ts';
import { treeUsageBytes } from './disk-usage.ts';
import { HarnessCgroup, cgroupLayout, killCgroupScript, sweepHarnessGroups } from './cgroups.ts';
import { freeze, freezerOf, thaw, type Freezer } from './freezer.ts';
import { freezerHow, freezerVerdict } from './freezer-probe.ts';
import { GUEST_ENV, runInGuest, spawnInGuest, withContext, type Launch } from './guest-process.ts';

// Joins every hierarchy's cgroup.procs before exec'ing the script, so no descendant escapes; then,
// in a private mount namespace (no cost to the workload), binds read-only shares read-only over
// themselves, so that a guest cannot write into the harness's caches even as root.
const JOIN_AND_EXEC = 'for f in $VB_PROCS; do echo $$ > "$f" || exit 112; done; unset VB_PROCS; exec unshare --mount --propagation private bash -c "$VB_MOUNT_RO"';
// Every VB_* variable is unset before the script runs: it starts with GUEST_ENV and its own env only.
const MOUNT_RO_AND_EXEC =
  'while IFS= read -r d; do [ -z "$d" ] || mount --bind -o ro "$d" "$d" || exit 113; done <<< "$VB_RO"; s=$VB_SCRIPT; unset VB_RO VB_MOUNT_RO VB_SCRIPT; exec bash -c "$s"';

class BareMetalGuest implements Guest {
  readonly platform = 'baremetal';
  readonly accel = 'native' as const;
  readonly workdir: string;
  /** A directory of its own on the host's disk (bare metal has no copy-on-write layer: its workdir is as plain). */
  readonly plainDir?: string;
  readonly environment = GUEST_ENV;
  private readonly root: string;
  private undo?: () => Promise<void>;
  private paused = false;

  constructor(
    readonly spec: GuestSpec,
    private readonly cgroup: HarnessCgroup,
  ) {
    this.root = join(GUESTS_DIR, spec.name);
    this.workdir = join(this.root, 'work');
    if (spec.plainDir) this.plainDir = join(this.root, 'plain');
  }

  get name(): string {
    return this.spec.name;
  }

  async init(): Promise<void> {
    for (const s of this.spec.shares) {
      if (s.host !== s.guest) throw new Error(`baremetal cannot map ${s.host} to ${s.guest}: shares must use the same path`);
    }
    this.undo = onCleanup(`baremetal guest ${this.name}`, () => this.teardown());
    await mkdir(this.workdir, { recursive: true });
    if (this.plainDir) await mkdir(this.plainDir, { recursive: true });
    this.cgroup.create(this.spec, memoryCeiling(this.spec));
  }

  private launch(script: string, opts: ExecOptions): Launch {
    return {
      file: 'bash',
      args: ['-c', JOIN_AND_EXEC],
      extendEnv: false,
      env: {
        ...GUEST_ENV,
        ...opts.env,
        VB_PROCS: this.cgroup.procsFiles().join(' '),
        VB_MOUNT_RO: MOUNT_RO_AND_EXEC,
        VB_RO: this.spec.shares.filter((s) => s.readonly).map((s) => s.host).join('\n'),
        VB_SCRIPT: withContext(script, { cwd: opts.cwd }),
      },
    };
  }

  sh(script: string, opts: ExecOptions = {}) {
    // a command joining a frozen group would only hang until its timeout
    if (this.paused) return Promise.reject(new Error(`baremetal guest ${this.name} is paused: resume it before running commands`));
    return runInGuest(this.name, this.launch(script, opts), script, opts, () => this.killAll());
  }

  spawn(script: string, opts: ExecOptions = {}) {
    return spawnInGuest(this.launch(script, opts), opts);
  }

  async pushFile(hostPath: string, guestPath: string): Promise<void> {
    await cp(hostPath, guestPath, { recursive: true });
  }

  async pullFile(guestPath: string, hostPath: string): Promise<void> {
    await cp(guestPath, hostPath, { recursive: true });
  }

  address(): string | undefined {
    return this.spec.network ? '127.0.0.1' : undefined;
  }

  async usage() {
    return this.cgroup.usage();
  }

  /** Its private directory (programs are the host's own). */
  diskBytes(): Promise<number> {
    return treeUsageBytes(this.root);
  }

  cgroupPaths() {
    return this.cgroup.paths();
  }

  private freezer(): Freezer {
    const f = freezerOf(this.cgroup.layout, this.cgroup.rel);
    if (!f) throw new Error(`baremetal guest ${this.name}: this host has no freezer cgroup`);
    return f;
  }

  /** Freeze its cgroup and wait until the kernel says every process in it is frozen. */
  async pause(): Promise<void> {
    await freeze(this.freezer());
    this.paused = true;
  }

  async resume(): Promise<void> {
    await thaw(this.freezer());
    this.paused = false;
  }

  /** A paused guest is resumed first (killing frozen processes only takes effect when they thaw). */
  async killAll(): Promise<void> {
    if (this.paused) await this.resume();
    await this.cgroup.killAll();
  }

  watchdogScript(): string {
    return killCgroupScript(this.cgroup.layout, this.cgroup.rel);
  }

  async oomKills(): Promise<number> {
    return this.cgroup.oomKills();
  }

  private async teardown(): Promise<void> {
    // killCgroup thaws as it kills, so a paused guest goes too
    this.paused = false;
    await this.cgroup.destroy();
    await rm(this.root, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    await this.undo?.();
  }
}

/** Checkpoints of bare-metal guests: not offered, whatever CRIU can do here (one line, for every cell that would need one). */
export const NO_BAREMETAL_CHECKPOINT =
  "bare metal has no container to checkpoint: its guests are host processes in the host's own namespaces and files";

let capabilities: Promise<Capabilities> | undefined;

async function baremetalCapabilities(): Promise<Capabilities> {
  const pause = await freezerVerdict();
  const pauseCap: Capability = pause.ok ? { ok: true, how: `${freezerHow(cgroupLayout())} on the guest's cgroup` } : pause;
  const no: Capability = { ok: false, reason: NO_BAREMETAL_CHECKPOINT };
  return { pause: pauseCap, checkpoint: no, migrate: no, clone: no };
}

const baremetal: Driver = {
  name: 'baremetal',
  description: 'host processes in a harness cgroup with the same limits as a container',
  noPrivateImage: 'bare metal has no guest image: its guests run on the host\'s own files',
  // the workloads' guest packages (redis-server, fio, a JDK...) are installed on the host instead
  hostPackages: ['procps', 'iproute2'],
  guestIsHost: true,
  cpuPolicies: ['cpuset', 'shares', 'quota'],
  async probe() {
    if (!isRoot()) return { ok: false, reason: 'baremetal needs root to create cgroups; run as root' };
    return { ok: true, accel: 'native' };
  },
  capabilities() {
    capabilities ??= baremetalCapabilities();
    return capabilities;
  },
  async provision(spec: GuestSpec, _ctx: RunContext) {
    const guest = new BareMetalGuest(spec, new HarnessCgroup(spec.name, undefined, spec.arena));
    await guest.init();
    return guest;
  },
  async sweep() {
    // arenas live under the harness group: its sweep empties them, then the arenas' own leftovers (swap files)
    const found = [...(await sweepHarnessGroups()), ...(await sweepArenas())];
    await rm(GUESTS_DIR, { recursive: true, force: true });
    return found;
  },
};

export default baremetal;
