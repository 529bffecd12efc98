// Synthetic result directories drawn from known distributions, with the real Manifest and Sample
// shapes: for tests of compare, adaptive repetitions, figures and export, and for trying the tools
// without running a suite. Seeded: the same arguments give the same run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cellId, sampleCellFields } from '../core/matrix.ts';
import { PROFILES } from '../core/profiles.ts';
import { MANIFEST, SAMPLES, type Manifest } from '../core/results.ts';
import { rng } from '../core/rng.ts';
import type { Accel, Better, Cell, CpuPolicy, LimitKind, NeighbourKind, ProfileName, Resource, Sample, SampleStatus } from '../core/types.ts';
import type { LoadedRun } from './resultdir.ts';

export interface SyntheticMetric {
  metric: string;
  unit: string;
  better: Better;
  /** Mean of the distribution. */
  mean: number;
  /** Coefficient of variation of the distribution (sd / mean). */
  cv: number;
  /** normal, or lognormal (right-skewed, as run times under interference are). Default normal. */
  dist?: 'normal' | 'lognormal';
}

export interface SyntheticCell {
  platform: string;
  workload: string;
  resource?: Resource;
  neighbourKind?: NeighbourKind;
  neighbour?: string;
  cpuPolicy?: CpuPolicy;
  memoryLimit?: LimitKind;
  overcommit?: number;
  /** Id of the reference cell (see cellOf to compute ids). */
  reference?: string;
  metrics: SyntheticMetric[];
  /** Measured repetitions (1-based) that did not finish; their samples are status 'dnf'. */
  dnfReps?: number[];
  /** Measured repetitions that failed with an error. */
  errorReps?: number[];
  accel?: Accel;
  /** Override the run's repetitions for this cell. */
  reps?: number;
}

export interface SyntheticRunSpec {
  suite?: string;
  host?: string;
  seed: number;
  reps: number;
  warmup?: number;
  profile?: ProfileName;
  cells: SyntheticCell[];
  created?: string;
  /** Seconds each run takes (start/end stamps), default 10. */
  runSeconds?: number;
  vcpus?: number;
  memoryBytes?: number;
}

/** The Cell a synthetic cell describes (id computed the way the matrix does). */
export function cellOf(c: SyntheticCell): Cell {
  const base = {
    platform: c.platform,
    workload: c.workload,
    resource: c.resource ?? 'cpu',
    neighbourKind: c.neighbourKind ?? 'none',
    neighbour: c.neighbour ?? 'none',
    cpuPolicy: c.cpuPolicy ?? 'cpuset',
    memoryLimit: c.memoryLimit ?? 'hard',
    overcommit: c.overcommit ?? 1,
  };
  return c.reference ? { ...base, id: cellId(base), reference: c.reference } : { ...base, id: cellId(base) };
}

/** A draw from N(0, 1) (Box-Muller on the seeded generator). */
export function gaussian(next: () => number): number {
  let u = 0;
  while (u === 0) u = next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

function draw(m: SyntheticMetric, next: () => number): number {
  const z = gaussian(next);
  if (m.dist === 'lognormal') {
    // lognormal with the given mean and cv
    const s2 = Math.log(1 + m.cv * m.cv);
    return m.mean * Math.exp(Math.sqrt(s2) * z - s2 / 2);
  }
  return m.mean * (1 + m.cv * z);
}

/** A complete synthetic run: manifest and samples, runs interleaved round by round. */
export function syntheticRun(spec: SyntheticRunSpec): { manifest: Manifest; samples: Sample[] } {
  const next = rng(spec.seed);
  const suite = spec.suite ?? 'isolation';
  const host = spec.host ?? 'lab1';
  const profileName = spec.profile ?? 'smoke';
  const warmup = spec.warmup ?? 0;
  const vcpus = spec.vcpus ?? 1;
  const memoryBytes = spec.memoryBytes ?? 2 ** 30;
  const runS = spec.runSeconds ?? 10;
  const cells = spec.cells.map((c) => ({ spec: c, cell: cellOf(c) }));
  const created = spec.created ?? '2025-01-01T00:00:00.000Z';
  let clock = Date.parse(created);
  const samples: Sample[] = [];
  const maxReps = Math.max(spec.reps, ...spec.cells.map((c) => c.reps ?? 0));
  for (let round = 0; round < warmup + maxReps; round++) {
    const isWarm = round < warmup;
    const rep = isWarm ? round + 1 : round - warmup + 1;
    for (const { spec: c, cell } of cells) {
      if (!isWarm && rep > (c.reps ?? spec.reps)) continue;
      const start = new Date(clock).toISOString();
      clock += runS * 1000;
      const end = new Date(clock).toISOString();
      const status: SampleStatus = !isWarm && c.dnfReps?.includes(rep) ? 'dnf' : !isWarm && c.errorReps?.includes(rep) ? 'error' : 'ok';
      for (const m of c.metrics) {
        const v = draw(m, next);
        samples.push({
          suite,
          ...sampleCellFields(cell),
          rep,
          warmup: isWarm,
          metric: m.metric,
          value: status === 'ok' ? v : null,
          unit: m.unit,
          better: m.better,
          status,
          ...(status === 'dnf' ? { message: `did not finish within ${PROFILES[profileName].timeoutS} s` } : status === 'error' ? { message: 'synthetic failure' } : {}),
          accel: c.accel ?? 'native',
          vcpus,
          memoryBytes,
          start,
          end,
        });
      }
    }
  }
  const platforms = [...new Set(cells.map((c) => c.cell.platform))];
  const profile = { ...PROFILES[profileName], reps: spec.reps, warmup };
  const manifest: Manifest = {
    format: 1,
    suite,
    created,
    command: `npm run suite ${suite} -- --profile ${profileName} --reps ${spec.reps} --seed ${spec.seed}`,
    options: {
      suite,
      profile: profileName,
      platforms,
      reps: spec.reps,
      warmup,
      timeoutS: profile.timeoutS,
      seed: spec.seed,
      out: 'results',
      dryRun: false,
      cpuPolicy: 'cpuset',
      memoryLimit: 'hard',
      vcpus,
      memoryBytes,
      pidsMax: profile.pidsMax,
    },
    profile,
    platforms,
    accel: Object.fromEntries(platforms.map((p) => [p, cells.find((c) => c.cell.platform === p)?.spec.accel ?? 'native'])),
    adjustments: [],
    cells: cells.map((c) => c.cell),
    plannedRuns: new Set(samples.map((s) => `${s.cell}#${s.warmup ? 'w' : ''}${s.rep}`)).size,
    host: {
      hostname: host,
      cpu: { manufacturer: 'GenuineIntel', brand: 'Synthetic CPU @ 2.0GHz', cores: 2, physicalCores: 2, speedGHz: 2, virtualization: true },
      memoryBytes: 24 * 2 ** 30,
      os: { distro: 'Debian GNU/Linux', release: '12', kernel: '6.1.0-synthetic', arch: 'x64' },
      virtualization: { hypervisor: undefined, kvmDevice: true },
      cgroupVersion: 2,
    },
    tools: { node: 'v20' },
    harness: { commit: '0000000000000000000000000000000000000000', dirty: false },
    caveats: [],
  };
  return { manifest, samples };
}

/** Write a synthetic run as a result directory (manifest.json + samples.jsonl). */
export function writeRun(dir: string, run: { manifest: Manifest; samples: Sample[] }): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MANIFEST), JSON.stringify(run.manifest, null, 2) + '\n');
  writeFileSync(join(dir, SAMPLES), run.samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
  return dir;
}

/** The in-memory LoadedRun of a synthetic run (what loadRun would return), for fast tests. */
export function asLoaded(run: { manifest: Manifest; samples: Sample[] }, dir = `/synthetic/${run.manifest.suite}`): LoadedRun {
  const runs = new Set(run.samples.map((s) => `${s.cell}#${s.warmup ? 'w' : ''}${s.rep}`));
  return { dir, manifest: run.manifest, samples: run.samples, measured: run.samples.filter((s) => !s.warmup), runsRecorded: runs.size, notes: [] };
}
