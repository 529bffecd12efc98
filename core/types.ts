// The contracts between suites, the runner, drivers, workloads, neighbours and analysis.
// A new platform is one Driver file; a new benchmark is one Workload file; both plus one registry line.

export type ProfileName = 'smoke' | 'quick' | 'paper';
/** cpuset: exclusive pinned CPUs; shares: every CPU, by weight; quota: every CPU, capped by a CFS quota (GuestSpec.cpuQuota). */
export type CpuPolicy = 'cpuset' | 'shares' | 'quota';
export type LimitKind = 'hard' | 'soft';
export type Accel = 'native' | 'kvm' | 'tcg';
export type Better = 'lower' | 'higher';
export type Resource = 'cpu' | 'disk' | 'memory' | 'network';
export type NeighbourKind = 'none' | 'competing' | 'orthogonal' | 'adversarial';

/** A directory of the host made visible inside a guest (bind mount, 9p share, or the same path on bare metal). */
export interface Share {
  host: string;
  guest: string;
  readonly: boolean;
  /**
   * A read-only share a kvm guest gets as a disk image of the directory (built once, cached)
   * rather than over 9p, which QEMU cannot migrate (the migration experiment's kernel tree).
   * Containers bind-mount it as any share; lightvm ignores it.
   */
  asDisk?: boolean;
}

/** What a guest is given. Every guest in a run gets the same vCPUs and memory (the study's rule). */
export interface GuestSpec {
  name: string;
  vcpus: number;
  /** Host CPUs this guest may run on. With policy 'cpuset' they are exclusive per guest where the host has enough. */
  cpus: number[];
  cpuPolicy: CpuPolicy;
  /** cpu.shares (v1) weight; converted to cpu.weight on v2. */
  cpuShares: number;
  /** Optional CFS quota as a fraction of `vcpus` CPUs (1 = vcpus full CPUs). Undefined: no quota. */
  cpuQuota?: number;
  memoryBytes: number;
  memoryLimit: LimitKind;
  /** blkio / io weight, 10..1000 (v1 bfq scale). */
  ioWeight: number;
  /** Process-count ceiling; always finite so that a fork bomb is bounded. */
  pidsMax: number;
  /** Attach to the harness bridge with an address of the harness's range. */
  network: boolean;
  shares: Share[];
  /** Name of the harness arena cgroup the guest's cgroup goes under (drivers/arena.ts); absent = today's placement. */
  arena?: string;
  /** 0-based tenant index in a multi-tenant cell. */
  tenant?: number;
  /**
   * Give the guest an empty writable directory on the host's disk without copy-on-write (a bind
   * mount of a fresh host directory; for a VM a raw disk): Guest.plainDir. A driver that cannot refuses.
   */
  plainDir?: boolean;
  /**
   * The guest's root image: 'shared' (default) = a copy-on-write layer over the platform's one
   * cached image (lxc's overlay, docker's image layers, a qcow2 backing file, lightvm's 9p root);
   * 'private' = its own full copy of that image (Driver.copyImage), removed with the guest.
   */
  image?: 'shared' | 'private';
}

/** A guest's own full copy of its platform's image (GuestSpec.image 'private'), made before the guest is launched. */
export interface ImageCopy {
  /** Bytes the copy occupies on the host's disk (allocated blocks). */
  bytes: number;
  /** Seconds making it took (never part of a launch time). */
  seconds: number;
  /** Remove it; idempotent. A guest provisioned on it removes it on destroy() anyway. */
  remove(): Promise<void>;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Throw on a non-zero exit (default true). */
  check?: boolean;
  /** Abort (kills the command's processes in the guest), e.g. the run's RunContext.signal. */
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** A process started in a guest that keeps running until it ends or is stopped. */
export interface GuestProcess {
  readonly pid: number | undefined;
  /** Resolves when the process ends (never rejects). */
  readonly done: Promise<ExecResult>;
  kill(signal?: NodeJS.Signals): void;
}

/** Where the host sees a guest's cgroup, for monitors that read it from outside (absolute directories). */
export interface GuestCgroupPaths {
  /** A cgroup v2 directory of the guest (the unified hierarchy on v1 hosts) with cpu/memory/io.pressure files. */
  psi?: string;
  /** v1: the memory controller's directory; v2: the guest's directory. */
  memory?: string;
  /** v1: the blkio controller's directory; v2: the guest's directory. */
  io?: string;
  /** v1: the cpuacct controller's directory; v2: the guest's directory. */
  cpu?: string;
  version: 1 | 2;
}

export interface GuestUsage {
  memoryBytes?: number;
  /**
   * Issue 12: memory its processes hold, without page cache they do not map (what a migration must
   * move): v1 memory.stat total_rss + total_mapped_file, v2 anon + file_mapped. Containers and bare metal.
   */
  memoryInUseBytes?: number;
  cpuSeconds?: number;
  pids?: number;
}

export interface Guest {
  readonly name: string;
  readonly platform: string;
  readonly spec: GuestSpec;
  readonly accel: Accel;
  /** VMs and containers: seconds from starting the hypervisor (lxc-start) to the guest answering commands (recorded in samples). */
  readonly bootSeconds?: number;
  /** A writable scratch directory inside the guest, private to it. */
  readonly workdir: string;
  /** Where the guest sees its plain (no copy-on-write) directory, when its spec asked for one (GuestSpec.plainDir). */
  readonly plainDir?: string;
  /** Run `bash -c script` inside the guest. */
  sh(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Start `bash -c script` in the background inside the guest. */
  spawn(script: string, opts?: Omit<ExecOptions, 'check'>): GuestProcess;
  pushFile(hostPath: string, guestPath: string): Promise<void>;
  pullFile(guestPath: string, hostPath: string): Promise<void>;
  /** Address on the harness network, if attached. */
  address(): string | undefined;
  usage(): Promise<GuestUsage>;
  /** The guest's cgroup as the host sees it (bare metal, containers, QEMU's group), for monitors. */
  cgroupPaths?(): GuestCgroupPaths | undefined;
  /** The environment every command in this guest starts with (before ExecOptions.env), for the run's artifacts. */
  readonly environment?: Record<string, string>;
  /** Kill every process in the guest without destroying it (used to stop adversaries). */
  killAll(): Promise<void>;
  /**
   * A host shell script that freezes and kills every process of this guest (or its VM), runnable
   * by a watchdog after the harness itself died (core/watchdog.ts). Every real driver has one.
   */
  watchdogScript?(): string;
  /** OOM kills inside this guest's cgroup (and, for VMs, by the guest's own kernel) since it started. */
  oomKills?(): Promise<number>;
  /** Bytes this guest occupies on the host's disk beyond what it shares with others (its copy-on-write layer or own directory). */
  diskBytes?(): Promise<number>;
  /**
   * Issue 12. Stop every process of the guest without losing any state (containers: the cgroup
   * freezer; VMs: QEMU's `stop`), and go on again. Absent: the platform cannot (Driver.capabilities says why).
   */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
  /**
   * Issue 12. Save the guest's whole running state (memory, processes) to files in `dir` (empty,
   * made by the caller). leaveRunning: the guest goes on afterwards (a warm-start image); else it is
   * stopped for good (and must still be destroyed). Throws with the cause on a full or read-only disk.
   */
  checkpoint?(dir: string, opts: { leaveRunning: boolean; signal?: AbortSignal }): Promise<Checkpoint>;
  /**
   * Issue 12. Live-migrate the running guest to a new instance on this host (VMs: a second QEMU
   * over a local socket; containers: CRIU pre-dump and page server). The guest object stays valid
   * and afterwards drives the new instance; the old one is gone. On failure (no convergence within
   * timeoutS) the guest is left running in the old instance and the new one is gone, never half of each.
   */
  migrate?(opts: { signal?: AbortSignal; timeoutS: number; maxDowntimeMs?: number }): Promise<MigrationStats>;
  destroy(): Promise<void>;
}

export interface ProbeResult {
  ok: boolean;
  /** One sentence saying why not, when ok is false. */
  reason?: string;
  accel?: Accel;
}

/** How a driver may probe (Driver.probe). */
export interface ProbeOptions {
  /** Why the probe must not boot a guest; unset: it may. */
  noBoot?: string;
}

export interface Driver {
  readonly name: string;
  readonly description: string;
  /** Host packages (Debian names) this driver needs, installed by the harness when missing. */
  readonly hostPackages: string[];
  /** Guests are host processes (bare metal): the workloads' guest packages are then host packages too. */
  readonly guestIsHost?: boolean;
  /** CPU policies this platform can express; undefined = every one. A suite cell with another one is refused or skipped. */
  readonly cpuPolicies?: CpuPolicy[];
  /** Limits used when the run does not choose them (--cpu-policy, --memory-limit); default cpuset and hard. */
  readonly defaultLimits?: { cpuPolicy?: CpuPolicy; memoryLimit?: LimitKind };
  /**
   * `profile`: the run's profile, for drivers whose fallbacks are only acceptable at some (kvm: TCG at smoke).
   * `opts.noBoot`: why this probe must not boot a guest (a dry run beside a running suite): a probe
   * that would boot one answers from what it knows and says so.
   */
  probe(profile?: ProfileName, opts?: ProbeOptions): Promise<ProbeResult>;
  /** Build cached images etc. once per suite run, before any timing. */
  prepare?(ctx: PrepareContext): Promise<void>;
  /**
   * Where its guests' writes land on the host (layers, overlays, own directories) and the room
   * left there, for checks before a run; undefined = under the harness's state directory (STATE_DIR).
   */
  guestDiskRoom?(): Promise<DiskRoom>;
  provision(spec: GuestSpec, ctx: RunContext): Promise<Guest>;
  /** Several tenants at once where the platform shares one host-side instance among them (lxcvm: one VM of the summed size). */
  provisionTenants?(specs: GuestSpec[], ctx: RunContext): Promise<Guest[]>;
  /** Remove anything a crashed earlier run of this driver left behind. */
  sweep?(): Promise<string[]>;
  /**
   * GuestSpec.image 'private': make the guest's own full copy of the platform's image now, before
   * anything is timed (written out to disk); provision() of the same spec then starts the guest on
   * it, its destroy() removes it, and sweep() removes one a killed run left. Absent: the platform
   * has no per-guest image (noPrivateImage says why) and cells that need one are skipped.
   */
  copyImage?(spec: GuestSpec, ctx: RunContext): Promise<ImageCopy>;
  /** For the free-space check before a run: the directory private copies go to, and the image's size (undefined until it is built). */
  imageCopyTarget?(guestPackages: string[]): Promise<{ dir: string; bytes?: number }>;
  /** Why this platform has no private image copies (one sentence), when copyImage is absent. */
  readonly noPrivateImage?: string;
  /**
   * Issue 12. Which of pause/resume, checkpoint/restore and live migration work on this host,
   * probed for real (a small guest or process paused, dumped and restored, migrated), at most
   * once per process; each one that does not work says why in one line. Absent: none works.
   */
  capabilities?(profile?: ProfileName): Promise<Capabilities>;
  /** Issue 12. A new guest named by `spec` from a checkpoint (a warm start); refuses one of another harness, kernel or tool (Checkpoint.stamp) with one line. */
  restore?(spec: GuestSpec, checkpoint: Checkpoint, ctx: RunContext): Promise<Guest>;
  /**
   * Issue 12. A hot clone: a second running guest named by `spec` with `source`'s memory, caches and
   * processes, on its own copy of source's disk state and its own address; source goes on running.
   */
  clone?(source: Guest, spec: GuestSpec, ctx: RunContext): Promise<Guest>;
}

/** Issue 12: what a platform can do with a running guest besides running it. */
export type CapabilityName = 'pause' | 'checkpoint' | 'migrate' | 'clone';

export interface Capability {
  ok: boolean;
  /** One line saying why not, when ok is false (e.g. CRIU's own error). */
  reason?: string;
  /** How it is done here, for the manifest (e.g. 'criu 3.17.1', 'QEMU migrate to file, TCG'). */
  how?: string;
}

export type Capabilities = Record<CapabilityName, Capability>;

/** A guest's state saved to files on the host (Guest.checkpoint), restorable by Driver.restore. */
export interface Checkpoint {
  readonly dir: string;
  readonly platform: string;
  /** Bytes of the checkpoint on disk. */
  readonly bytes: number;
  /** Seconds the dump took. */
  readonly seconds: number;
  /** Seconds the guest was stopped for the dump (equal to seconds unless the dump was iterative). */
  readonly frozenS?: number;
  /** What wrote it; a restore elsewhere is refused: harness commit, host kernel, the tool and its version. */
  readonly stamp: { harness: string; kernel: string; tool: string };
}

/** What one live migration took (Guest.migrate). */
export interface MigrationStats {
  /** Seconds from starting the migration to the guest running at the destination. */
  totalS: number;
  /** Milliseconds the guest ran nowhere (QEMU's reported downtime; CRIU's final dump and restore). */
  downtimeMs: number;
  /** Bytes actually sent from source to destination. */
  bytes: number;
  /** Bytes of guest memory the source had to send at the start (its RAM size or the container's memory in use). */
  memoryBytes?: number;
  /** Tool-specific detail for the artifacts (iterations, dirty rate, ...). */
  detail?: Record<string, number | string>;
}

export interface MetricSpec {
  metric: string;
  unit: string;
  better: Better;
}

export interface Metric extends MetricSpec {
  value: number;
  /** How the value was obtained when that can differ between runs (e.g. which tool measured it). */
  note?: string;
}

/** A file the workload hands to the run's artifacts (runs/<cell>#<rep>/<name>): its tool's raw output or its tail. */
export interface RawOutput {
  /** File name, e.g. 'make.log', 'fio.json' (no directories). */
  name: string;
  text: string;
}

/** What Workload.run may return instead of bare metrics: the metrics plus the tool's raw output. */
export interface RunResult {
  metrics: Metric[];
  raw?: RawOutput[];
}

export interface Profile {
  name: ProfileName;
  vcpus: number;
  memoryBytes: number;
  reps: number;
  warmup: number;
  /** Per-run timeout for the measured workload, seconds. */
  timeoutS: number;
  /** Neighbour adversary bounds. */
  pidsMax: number;
}

export interface PrepareContext {
  profile: Profile;
  cacheDir: string;
  /** Debian packages guest images must contain: the union over every registered workload and neighbour. */
  guestPackages: string[];
  log: (line: string) => void;
}

export interface RunContext extends PrepareContext {
  /** Aborted when the run must stop (timeout, Ctrl-C). */
  signal: AbortSignal;
  /** Seconds left for the measured part. */
  timeoutS: number;
  /** The workload's extra guests by tier name (see Workload.tiers), same platform and size as the target. */
  tiers: Record<string, Guest>;
}

export interface Workload {
  readonly name: string;
  readonly resource: Resource;
  readonly description: string;
  /** Rough seconds per run (setup + measured part) per profile, for --dry-run and the ETA. */
  readonly estimatedSeconds?: Partial<Record<ProfileName, number>>;
  /** Every metric run() returns; a run that does not finish records each of them as dnf/error. */
  readonly metrics: MetricSpec[];
  /** Debian packages the guest image needs for this workload. */
  readonly guestPackages: string[];
  /** Host packages needed to prepare host-side assets. */
  readonly hostPackages?: string[];
  /**
   * Extra guests beside the measured one (e.g. RUBiS: ['db', 'client'] with the web tier as the
   * target), provisioned by the runner on the same platform with the same size, in ctx.tiers.
   */
  readonly tiers?: string[];
  /** Once per suite run on the host: build caches; returns directories to share into every guest. */
  prepareHost?(ctx: PrepareContext): Promise<Share[]>;
  /** Per guest, unmeasured. */
  setup(guest: Guest, ctx: RunContext): Promise<void>;
  /** The measured part: its metrics, or its metrics with the tool's raw output (kept as run artifacts). */
  run(guest: Guest, ctx: RunContext): Promise<Metric[] | RunResult>;
}

/** What an experiment's parameters may depend on: the run's profile and guest size, and the host. */
export interface ExperimentPlanContext {
  profile: ProfileName;
  /** Memory per guest of this run. */
  memoryBytes: number;
  hostMemoryBytes: number;
  /** --storm-sizes, when given: the storm sizes the user asked for (instead of the profile's). */
  stormSizes?: number[];
  /** --storm-images: storms on the shared image only, on private copies only, or both (default). */
  stormImages?: 'shared' | 'private' | 'both';
}

/** Free space of the file system holding a directory (as an unprivileged writer sees it: f_bavail). */
export interface DiskRoom {
  dir: string;
  freeBytes: number;
}

/** What an experiment's check before a run sees: its planned parameters per platform and the room each platform's guests have on disk. */
export interface ExperimentPreflight {
  profile: ProfileName;
  params: Record<string, string[]>;
  room: Record<string, DiskRoom>;
}

/** The context an experiment's procedure runs in: the run's context, its cell's parameter, and guests to provision. */
export interface ExperimentContext extends RunContext {
  platform: string;
  /** The cell's parameter (e.g. 'cold', 'n4'). */
  param: string;
  /**
   * A new guest of the run's size on the cell's platform (tenant i gets tenant i's CPUs). The runner
   * destroys every guest provisioned here after the run, whatever happens, including guests whose
   * provisioning is still under way when the procedure throws or times out.
   */
  provision(tenant?: number, extra?: { image?: PrivateImage; plainDir?: boolean; shares?: Share[] }): Promise<Guest>;
  /**
   * A private copy of the platform's image for tenant's next guest, made now, before any timing
   * (Driver.copyImage); pass it to provision() ({ image }) to start that guest on it. The runner
   * removes it with its guest, or after the run if no guest was started on it.
   */
  copyImage(tenant?: number): Promise<PrivateImage>;
  /** Destroy a guest of this run now (e.g. an untimed warm-up launch); the runner then leaves it alone. */
  destroy(guest: Guest): Promise<void>;
  /** Issue 12: what the cell's platform can do here (Driver.capabilities; all false with the reason when it has none). */
  capabilities(): Promise<Capabilities>;
  /** Issue 12: a new, empty directory on the host for a checkpoint, removed after the run. */
  checkpointDir(): Promise<string>;
  /** Issue 12: a warm start of tenant's next guest from a checkpoint (Driver.restore); destroyed by the runner like provisioned ones. */
  restore(checkpoint: Checkpoint, tenant?: number): Promise<Guest>;
  /** Issue 12: a hot clone of a running guest of this run as tenant's next guest (Driver.clone); destroyed by the runner like provisioned ones. */
  clone(source: Guest, tenant?: number): Promise<Guest>;
}

/** A private image copy made for one guest of an experiment (ExperimentContext.copyImage). */
export interface PrivateImage {
  /** The name the guest started on it will have. */
  readonly guest: string;
  readonly tenant: number;
  readonly bytes: number;
  readonly seconds: number;
}

/** One value an experiment measured; a per-guest value names its tenant, a value it could not get says why. */
export interface ExperimentMetric {
  metric: string;
  value: number | null;
  tenant?: number;
  /** Absent: ok (value set). 'dnf': the thing measured never happened within its limit (e.g. a guest never ready). */
  status?: Exclude<SampleStatus, 'ok'>;
  message?: string;
  note?: string;
}

export interface ExperimentResult {
  metrics: ExperimentMetric[];
  raw?: RawOutput[];
}

/**
 * A procedure instead of a workload beside a neighbour (a suite's `experiments`): run once per
 * planned run of each of its cells (`<platform>/<name>/<param>`), it provisions the guests it
 * needs through its context, measures, and returns its values. Plan, interleaving, resume,
 * samples, artifacts and cleanup are the runner's, as for workloads.
 */
export interface Experiment {
  readonly name: string;
  readonly resource: Resource;
  readonly description: string;
  /**
   * Every metric run() may return (units and directions of its samples). An `optional` one may be
   * absent from a run (a platform that cannot measure it): no sample then, rather than an error.
   */
  readonly metrics: (MetricSpec & { optional?: boolean })[];
  /** Debian packages its guests need (must be in the cached guest image: a workload's guestPackages). */
  readonly guestPackages: string[];
  /** Platforms it applies to; undefined = every platform of the suite. */
  readonly platforms?: string[];
  /** The parameter whose cell the others are compared with in ratios, or that parameter per parameter (undefined: none). */
  readonly reference?: string | ((param: string) => string | undefined);
  /** How many private image copies (GuestSpec.image 'private') a run of this parameter holds at once; 0 or absent: none. */
  imageCopies?(param: string): number;
  /** The cells' parameters for this run, and one line when the host limited them. */
  params(p: ExperimentPlanContext): { params: string[]; note?: string };
  /** Why a platform has no cell of a parameter (one line, said when planning), or undefined when it has one. */
  skip?(platform: string, param: string): string | undefined;
  /** Rough seconds per run of a parameter natively, for --dry-run and the ETA. */
  estimateS(param: string, profile: ProfileName): number;
  /** Checked before anything starts (and by --dry-run): one line saying why this run cannot go here, or undefined (the runner exits 2). */
  preflight?(p: ExperimentPreflight): string | undefined;
  /**
   * Issue 12: the capability a parameter's procedure needs (a warm start needs 'checkpoint'), or
   * undefined. Declaring it makes the runner probe Driver.capabilities() of the run's platforms
   * before planning, record every verdict in the manifest and skip a cell whose capability is not
   * ok on its platform, with the probe's one-line reason.
   */
  needs?(param: string): CapabilityName | undefined;
  /** Host packages its procedure uses on the host (e.g. a client, or a tool that builds its data once). */
  readonly hostPackages?: string[];
  run(ctx: ExperimentContext): Promise<ExperimentResult>;
}

export interface RunningNeighbour {
  stop(): Promise<NeighbourReport>;
}

export interface NeighbourReport {
  /** Work the neighbour got done while it ran (iterations, bytes, forks), for the reader. */
  detail: Record<string, number | string>;
}

export interface Neighbour {
  readonly name: string;
  readonly resource: Resource;
  readonly kind: Exclude<NeighbourKind, 'none'>;
  readonly description: string;
  readonly guestPackages: string[];
  readonly hostPackages?: string[];
  prepareHost?(ctx: PrepareContext): Promise<Share[]>;
  setup(guest: Guest, ctx: RunContext): Promise<void>;
  /** Start in the background; the measured run begins once this resolves. */
  start(guest: Guest, ctx: RunContext): Promise<RunningNeighbour>;
}

/** One point of the matrix: what is measured, where, beside what. */
export interface Cell {
  id: string;
  platform: string;
  workload: string;
  resource: Resource;
  neighbourKind: NeighbourKind;
  neighbour: string;
  cpuPolicy: CpuPolicy;
  memoryLimit: LimitKind;
  overcommit: number;
  /** id of the cell this one is compared against in ratios (undefined for reference cells). */
  reference?: string;
  /** How many tenants of the cell's workload run at the same time (absent = 1). */
  tenants?: number;
  /** Allocation: every tenant busy, or only tenant 0 (the others provisioned idle). Absent = 'all'. */
  busy?: 'all' | 'one';
  /** Allocation: the host CPUs each tenant is given (C/k), by the cell's cpuPolicy. */
  cpusPerTenant?: number;
  /** The figure or part of the suite the cell belongs to (e.g. 'fig9'). */
  group?: string;
  /** Which axis the reference cell differs in. */
  referenceAxis?: 'platform' | 'cpuPolicy' | 'memoryLimit' | 'overcommit' | 'neighbour';
  /** Experiment cells: the experiment's parameter (the cell's `workload` is the experiment's name). */
  param?: string;
}

export type SampleStatus = 'ok' | 'dnf' | 'error';

/** One line of samples.jsonl: one metric of one measured run. */
export interface Sample {
  suite: string;
  cell: string;
  platform: string;
  workload: string;
  resource: Resource;
  neighbourKind: NeighbourKind;
  neighbour: string;
  cpuPolicy: CpuPolicy;
  memoryLimit: LimitKind;
  overcommit: number;
  reference?: string;
  /** Multi-tenant cells: which tenant (0-based) this sample is of. */
  tenant?: number;
  tenants?: number;
  busy?: 'all' | 'one';
  group?: string;
  cpusPerTenant?: number;
  /** Experiment cells: the experiment's parameter. */
  param?: string;
  /** OOM kills inside the guest during the run. */
  oomKills?: number;
  rep: number;
  warmup: boolean;
  metric: string;
  value: number | null;
  unit: string;
  better: Better;
  status: SampleStatus;
  message?: string;
  accel: Accel;
  vcpus: number;
  memoryBytes: number;
  start: string;
  end: string;
  neighbourDetail?: Record<string, number | string>;
  /** The workload's note on how this value was obtained (Metric.note). */
  note?: string;
  /** VM and container platforms: the measured guest's launch time (hypervisor or lxc-start to ready), seconds. */
  bootSeconds?: number;
  /** The host's speed just before this run (the fixed calibration work on the measured guest's CPUs). */
  calibration?: Calibration;
  /**
   * What the host and the guest did during the run (monitors' per-run mean/max: PSI, CPU split,
   * context switches, the guest's memory and I/O, steal). Context for a reader, never judged by compare.
   */
  context?: Record<string, number>;
  /** VM platforms: the guest kernel's mitigation setting ('host: <args>' follows the host's; else the explicit choice). */
  guestMitigations?: string;
  /** The run's artifacts directory, relative to the result directory (runs/<cell>#<rep>). */
  artifacts?: string;
  /** Merged shard runs (npm run merge): the host that measured this sample, and its shard (i/N). */
  host?: string;
  shard?: string;
}

/** The fixed calibration work's times: the same work every time, so a slower host shows as larger values. */
export interface Calibration {
  /** Milliseconds of the fixed integer loop, mean over the measured guest's CPUs (one process per CPU, at once). */
  cpuMs: number;
  /** Milliseconds of the fixed memory pass (write then read a buffer larger than the caches), same CPUs. */
  memMs: number;
  /** Milliseconds of the fixed kernel work (2 process starts, 2000 stat calls), same CPUs. */
  sysMs?: number;
  /** The host CPUs it ran on. */
  cpus: number[];
}
