// Command-line options of `npm run suite <name> -- ...`: parsed strictly, every mistake reported
// as one line naming the valid choices (UsageError -> exit 2) before anything starts.
import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';
import { PROFILES, PROFILE_NAMES } from './profiles.ts';
import { cpus, totalmem } from 'node:os';
import { NEIGHBOUR_ORDER, type SuiteDefinition, type SuiteGroup } from './matrix.ts';
import { checkMemoryBudget, defaultMemoryBudget } from './tenancy.ts';
import type { CpuPolicy, LimitKind, ProfileName } from './types.ts';
import { parseShard, type ShardSpec } from './shard.ts';

export interface RunOptions {
  suite: string;
  profile: ProfileName;
  /** Explicitly chosen platforms; undefined = every platform of the suite that runs here. */
  platforms?: string[];
  workloads?: string[];
  neighbours?: string[];
  reps: number;
  /** --reps auto: `reps` are the initial repetitions; more while a cell is noisy (analysis/adaptive.ts). */
  repsAuto?: boolean;
  /** --compare-to baseline|DIR: compare with that result directory after the run (exit code of compare). */
  compareTo?: string;
  warmup: number;
  timeoutS: number;
  seed: number;
  out: string;
  dryRun: boolean;
  resume?: string;
  cpuPolicy: CpuPolicy;
  memoryLimit: LimitKind;
  /** Set when --cpu-policy / --memory-limit was given: it then applies to every platform, whatever its own default. */
  cpuPolicyChosen?: boolean;
  memoryLimitChosen?: boolean;
  /** Set when --timeout was given: it then applies as given, also to guests under TCG. */
  timeoutChosen?: boolean;
  /** VM platforms' accelerator: auto = KVM where a guest really boots under it, else TCG (smoke only unless --accel tcg). */
  accel?: 'auto' | 'kvm' | 'tcg';
  vcpus: number;
  memoryBytes: number;
  pidsMax: number;
  /** VM guests' kernel mitigations: host (default) follows the host kernel's setting; auto or off are explicit choices, recorded in the rows. */
  guestMitigations?: GuestMitigations;
  /** --no-monitors: no PSI/CPU/memory sampling beside the measured runs (to measure the monitors' own cost). */
  noMonitors?: boolean;
  /** Multi-tenant cells: the tenants' memory budget M (the arena's limit), bytes; --memory-budget or the host's default. */
  memoryBudget?: number;
  /** Set when --memory-budget was given. */
  memoryBudgetChosen?: boolean;
  /** --overcommit f,f: replaces the overcommit factors of the suite's groups. */
  overcommit?: number[];
  /** --tenants k,k: replaces the allocation tenant counts of the suite's groups. */
  tenants?: number[];
  /** --storm-sizes n,n: suites with a storm experiment: the storm sizes (each shared and private) instead of the profile's. */
  stormSizes?: number[];
  /** --storm-images shared|private|both: which storms (default both). */
  stormImages?: 'shared' | 'private' | 'both';
  /** --shard i/N: run only shard i of N of the planned cells (core/shard.ts); kept by --resume. */
  shard?: ShardSpec;
}

export const GUEST_MITIGATIONS = ['host', 'auto', 'off'] as const;
export type GuestMitigations = (typeof GUEST_MITIGATIONS)[number];

export const HELP = (def: SuiteDefinition, names: { neighbours: string[] }) => `usage: npm run suite ${def.name} -- [options]

${def.description}

options:
  --profile smoke|quick|paper   run size (default quick); smoke = seconds per run, paper = the study's parameters
  --platforms a,b               platforms to run (default: every one of ${def.platforms.join(', ')} that works here)
  --workloads a,b               workloads or experiments to measure (${[...new Set(def.rows.map((r) => r.workload))].concat((def.experiments ?? []).map((e) => e.name)).join(', ')})
  --neighbours a,b              neighbour kinds (${NEIGHBOUR_ORDER.join(', ')}) or names (${names.neighbours.join(', ')});
                                no-neighbour reference cells are always kept
  --reps N|auto                 measured repetitions per cell (profile default); auto: the profile's, then more
                                interleaved ones while a cell's CoV > 2.5% or a value lies beyond 3 sd, up to a cap
  --warmup N                    discarded warm-up repetitions per cell (profile default)
  --timeout T                   per-run limit, e.g. 300, 90s, 15m; a run past it is recorded as DNF
  --seed N                      seed of the interleaved run order (default: random, recorded)
  --out DIR                     results root (default results/)
  --cpu-policy cpuset|shares    pin guests to exclusive cores, or let them share CPUs by weight (default cpuset;
                                lxcvm: shares, the study's soft limits for nested containers)
  --memory-limit hard|soft      memory limit kind (default hard; lxcvm: soft)
  --vcpus N                     vCPUs per guest (profile default, reduced to what the host can give every guest)
  --memory SIZE                 memory per guest, e.g. 2G, 512M (profile default)
  --memory-budget SIZE          suites with tenants: the tenants' memory budget M, e.g. 4G (default: what C/V guests of
                                --memory would get, at most half the host's memory); overcommit f puts f x M in M
  --overcommit F,F              suites with an overcommit axis: the factors to run (e.g. 1,1.5,2), each at least 1
  --tenants K,K                 suites with an allocation axis: tenant counts, each dividing the host's CPUs
  --storm-sizes N,N             suites with a storm experiment: guests started at once, each size on the shared
                                image and on private copies (default: the profile's); N guests that would not fit
                                in 3/4 of the host's memory are refused
  --storm-images shared|private|both
                                suites with a storm experiment: storms on the shared image only, on private
                                copies only, or both (default)
  --pids-max N                  process limit of every guest (bounds the fork bomb) (default 1024)
  --accel auto|kvm|tcg          VM platforms: auto (default) uses KVM where a probe guest boots under it, else
                                TCG emulation at the smoke profile only; tcg forces emulation at any profile;
                                kvm makes VM platforms unavailable without KVM. TCG samples say accel=tcg
  --guest-mitigations host|auto|off
                                VM guests' kernel CPU-vulnerability mitigations: host (default) follows the
                                host kernel's setting (its mitigations= and per-issue switches); auto and off are
                                explicit choices, recorded in the manifest and on every VM sample
  --no-monitors                 do not sample PSI, CPU split and the guests' cgroups beside the runs (they cost
                                well under 1%; this measures that)
  --compare-to baseline|DIR     after the run, compare with the accepted baseline of this suite and host (or
                                with DIR); suspect cells get more runs first; exit 0 no regression, 1 regression
                                (or runs in error), 2 bad input
  --resume DIR                  continue an interrupted run in DIR with its own configuration (only --dry-run
                                and --compare-to may be given beside it)
  --shard i/N                   run only part i of N of the planned cells (one host each, e.g. contrib/slurm);
                                cells compared in a ratio stay together, parts are balanced by estimated time
  --dry-run                     print the planned cells, run count and estimated duration; run nothing
  -h, --help                    this text
`;

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

function int(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseDuration(v: string): number {
  const m = v.match(/^(\d+(?:\.\d+)?)(s|m|h)?$/);
  if (!m) throw new UsageError(`--timeout must look like 300, 90s, 15m or 2h, got '${v}'`);
  const s = Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  if (s < 1) throw new UsageError(`--timeout must be at least 1 s, got '${v}'`);
  return s;
}

export function parseSize(v: string, option = 'memory'): number {
  const m = v.match(/^(\d+(?:\.\d+)?)([KMGT]i?B?)?$/i);
  if (!m) throw new UsageError(`--${option} must look like 512M or 2G, got '${v}'`);
  const unit = (m[2] ?? 'M').toUpperCase()[0]!;
  const bytes = Math.round(Number(m[1]) * 1024 ** ({ K: 1, M: 2, G: 3, T: 4 } as Record<string, number>)[unit]!);
  if (bytes < 64 * 1024 ** 2) throw new UsageError(`--${option} must be at least 64M, got '${v}'`);
  return bytes;
}

function oneOf<T extends string>(name: string, v: string | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`unknown ${name} '${v}'; valid: ${choices.join(', ')}`);
  return v as T;
}

function checkAll(what: string, values: string[] | undefined, valid: string[]): void {
  for (const v of values ?? []) if (!valid.includes(v)) throw new UsageError(`unknown ${what} '${v}'; valid: ${valid.join(', ')}`);
}

/** A list of numbers for an option only suites with such a group take. */
function numbers(name: string, items: string[] | undefined, def: SuiteDefinition, has: (g: SuiteGroup) => boolean, what: string): number[] | undefined {
  if (items === undefined) return undefined;
  if (!def.groups?.some(has)) throw new UsageError(`--${name}: suite ${def.name} has no ${what}`);
  return items.map((x) => {
    if (!/^\d+(\.\d+)?$/.test(x)) throw new UsageError(`--${name} takes numbers separated by commas, got '${x}'`);
    return Number(x);
  });
}

/** --storm-sizes: whole numbers of at least 1, for a suite with a storm experiment; sorted, each once. */
function stormSizesOf(items: string[] | undefined, def: SuiteDefinition): number[] | undefined {
  if (items === undefined) return undefined;
  if (!def.experiments?.some((e) => e.name === 'storm')) throw new UsageError(`--storm-sizes: suite ${def.name} has no storm experiment`);
  const sizes = items.map((x) => {
    if (!/^\d+$/.test(x) || Number(x) < 1) throw new UsageError(`--storm-sizes takes whole numbers of at least 1 separated by commas, got '${x}'`);
    return Number(x);
  });
  return [...new Set(sizes)].sort((a, b) => a - b);
}

export interface Known {
  platforms: string[];
  workloads: string[];
  neighbours: string[];
}

/** Options that may be given beside --resume: they do not change which runs are made, nor how. */
const RESUME_COMPATIBLE = ['resume', 'dry-run', 'compare-to', 'help'];

/** Parse argv (after the suite name). Returns 'help' for --help. */
export function parseSuiteArgs(argv: string[], def: SuiteDefinition, known: Known): RunOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        profile: { type: 'string' },
        platforms: { type: 'string' },
        workloads: { type: 'string' },
        neighbours: { type: 'string' },
        reps: { type: 'string' },
        warmup: { type: 'string' },
        timeout: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'cpu-policy': { type: 'string' },
        'memory-limit': { type: 'string' },
        vcpus: { type: 'string' },
        memory: { type: 'string' },
        'pids-max': { type: 'string' },
        'memory-budget': { type: 'string' },
        overcommit: { type: 'string' },
        tenants: { type: 'string' },
        'storm-sizes': { type: 'string' },
        'storm-images': { type: 'string' },
        accel: { type: 'string' },
        'guest-mitigations': { type: 'string' },
        'no-monitors': { type: 'boolean' },
        resume: { type: 'string' },
        'compare-to': { type: 'string' },
        'dry-run': { type: 'boolean' },
        shard: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // node's messages name the option; keep them to one line
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (see --help)`);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.resume !== undefined) {
    // a resumed run continues the plan in its manifest; an option that would change it is refused, not ignored
    const changing = Object.keys(v).filter((k) => !RESUME_COMPATIBLE.includes(k));
    if (changing.length > 0) {
      throw new UsageError(`--resume continues ${v.resume} with the configuration in its manifest; ${changing.map((k) => `--${k}`).join(', ')} would change that plan: leave ${changing.length > 1 ? 'them' : 'it'} out (or start a new run)`);
    }
  }
  const profile = oneOf('profile', v.profile, PROFILE_NAMES) ?? 'quick';
  const p = PROFILES[profile];
  const platforms = list(v.platforms);
  checkAll('platform', platforms, def.platforms.filter((x) => known.platforms.includes(x)));
  const workloads = list(v.workloads);
  checkAll('workload', workloads, [...new Set(def.rows.map((r) => r.workload))].concat((def.experiments ?? []).map((e) => e.name)));
  const neighbours = list(v.neighbours);
  checkAll('neighbour', neighbours, [...NEIGHBOUR_ORDER, ...known.neighbours]);
  // a suite with groups sets CPU policy and memory limit per figure: a run-wide choice would silently not apply
  for (const o of ['cpu-policy', 'memory-limit'] as const) {
    if (v[o] !== undefined && def.groups) throw new UsageError(`--${o}: suite ${def.name} sets it per figure (its groups' axes); leave it out`);
  }
  const overcommit = numbers('overcommit', list(v.overcommit), def, (g) => g.overcommit !== undefined, 'overcommit axis');
  const tenants = numbers('tenants', list(v.tenants), def, (g) => g.allocation !== undefined, 'allocation axis');
  for (const f of overcommit ?? []) if (f < 1) throw new UsageError(`--overcommit ${f} is below 1: there is nothing to overcommit`);
  for (const k of tenants ?? []) if (!Number.isInteger(k) || k < 1) throw new UsageError(`--tenants must be whole numbers of at least 1, got ${k}`);
  const stormSizes = stormSizesOf(list(v['storm-sizes']), def);
  const stormImages = oneOf('storm image kind', v['storm-images'], ['shared', 'private', 'both'] as const);
  if (stormImages && !def.experiments?.some((e) => e.name === 'storm')) throw new UsageError(`--storm-images: suite ${def.name} has no storm experiment`);
  const vcpus = int('vcpus', v.vcpus, 1, 1024) ?? p.vcpus;
  const memoryBytes = v.memory === undefined ? p.memoryBytes : parseSize(v.memory);
  if (v['memory-budget'] !== undefined && !def.groups?.some((g) => g.overcommit || g.allocation)) throw new UsageError(`--memory-budget: suite ${def.name} has no multi-tenant cells`);
  // recorded for suites with tenants (manifest options), chosen or not
  const memoryBudget = !def.groups ? undefined : v['memory-budget'] === undefined ? defaultMemoryBudget(cpus().length, totalmem(), vcpus, memoryBytes) : parseSize(v['memory-budget'], 'memory-budget');
  if (memoryBudget !== undefined) checkMemoryBudget(memoryBudget, totalmem());
  return {
    suite: def.name,
    profile,
    platforms,
    workloads,
    neighbours,
    reps: v.reps === 'auto' ? p.reps : (int('reps', v.reps, 1, 10_000) ?? p.reps),
    ...(v.reps === 'auto' ? { repsAuto: true } : {}),
    ...(v['compare-to'] !== undefined ? { compareTo: v['compare-to'] } : {}),
    warmup: int('warmup', v.warmup, 0, 100) ?? p.warmup,
    timeoutS: v.timeout === undefined ? p.timeoutS : parseDuration(v.timeout),
    seed: int('seed', v.seed, 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 2 ** 32),
    out: v.out ?? 'results',
    dryRun: v['dry-run'] ?? false,
    resume: v.resume,
    cpuPolicy: oneOf('cpu policy', v['cpu-policy'], ['cpuset', 'shares'] as const) ?? 'cpuset',
    memoryLimit: oneOf('memory limit', v['memory-limit'], ['hard', 'soft'] as const) ?? 'hard',
    ...(v['cpu-policy'] !== undefined ? { cpuPolicyChosen: true } : {}),
    ...(v['memory-limit'] !== undefined ? { memoryLimitChosen: true } : {}),
    ...(v.timeout !== undefined ? { timeoutChosen: true } : {}),
    ...(v.accel !== undefined ? { accel: oneOf('accelerator', v.accel, ['auto', 'kvm', 'tcg'] as const) } : {}),
    vcpus,
    memoryBytes,
    ...(memoryBudget !== undefined ? { memoryBudget } : {}),
    ...(v['memory-budget'] !== undefined ? { memoryBudgetChosen: true } : {}),
    ...(overcommit ? { overcommit } : {}),
    ...(tenants ? { tenants } : {}),
    ...(stormSizes ? { stormSizes } : {}),
    ...(stormImages ? { stormImages } : {}),
    pidsMax: int('pids-max', v['pids-max'], 32, 1_000_000) ?? p.pidsMax,
    ...(v['guest-mitigations'] !== undefined ? { guestMitigations: oneOf('guest mitigation setting', v['guest-mitigations'], GUEST_MITIGATIONS) } : {}),
    ...(v['no-monitors'] ? { noMonitors: true } : {}),
    ...(v.shard !== undefined ? { shard: parseShard(v.shard) } : {}),
  };
}
