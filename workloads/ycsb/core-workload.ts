// YCSB's CoreWorkload semantics: the six core workloads (A-F), record layout, key naming, and
// the per-operation choices (operation, key, field, scan length). Pure: no I/O here.
import {
  AcknowledgedCounter,
  DiscreteGenerator,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformGenerator,
  fnvhash64,
  u64ToString,
  type NumberGenerator,
  type Random,
} from './generators.ts';

export type Operation = 'READ' | 'UPDATE' | 'INSERT' | 'SCAN' | 'READ-MODIFY-WRITE';
export type Distribution = 'zipfian' | 'uniform' | 'latest';
export const DISTRIBUTIONS: Distribution[] = ['zipfian', 'uniform', 'latest'];

export interface Proportions {
  read: number;
  update: number;
  insert: number;
  scan: number;
  readmodifywrite: number;
}

export interface CoreWorkloadSpec extends Proportions {
  requestdistribution: Distribution;
}

/** The core workloads as YCSB ships them in workloads/workload[a-f]. */
export const CORE_WORKLOADS: Record<string, CoreWorkloadSpec> = {
  a: { read: 0.5, update: 0.5, insert: 0, scan: 0, readmodifywrite: 0, requestdistribution: 'zipfian' },
  b: { read: 0.95, update: 0.05, insert: 0, scan: 0, readmodifywrite: 0, requestdistribution: 'zipfian' },
  c: { read: 1, update: 0, insert: 0, scan: 0, readmodifywrite: 0, requestdistribution: 'zipfian' },
  d: { read: 0.95, update: 0, insert: 0.05, scan: 0, readmodifywrite: 0, requestdistribution: 'latest' },
  e: { read: 0, update: 0, insert: 0.05, scan: 0.95, readmodifywrite: 0, requestdistribution: 'zipfian' },
  f: { read: 0.5, update: 0, insert: 0, scan: 0, readmodifywrite: 0.5, requestdistribution: 'zipfian' },
};

/** Everything one YCSB invocation is told (the subset of YCSB properties the harness uses). */
export interface YcsbOptions {
  workload: string;
  recordcount: number;
  operationcount: number;
  threads: number;
  /** Target throughput in ops/s over all threads; 0 = as fast as possible. */
  target: number;
  requestdistribution: Distribution;
  fieldcount: number;
  fieldlength: number;
  maxscanlength: number;
  /** Stop the run phase after this many seconds even if operationcount is not reached; 0 = no limit. */
  maxexecutiontime: number;
  insertstart: number;
  seed: number;
}

export const DEFAULT_OPTIONS: YcsbOptions = {
  workload: 'a',
  recordcount: 1000,
  operationcount: 1000,
  threads: 1,
  target: 0,
  requestdistribution: 'zipfian',
  fieldcount: 10,
  fieldlength: 100,
  maxscanlength: 100,
  maxexecutiontime: 0,
  insertstart: 0,
  seed: 1,
};

/** Options for a workload letter: the workload's own distribution unless one is given. */
export function resolveOptions(partial: Partial<YcsbOptions> & { workload?: string }): YcsbOptions {
  const w = (partial.workload ?? DEFAULT_OPTIONS.workload).toLowerCase();
  const core = CORE_WORKLOADS[w];
  return { ...DEFAULT_OPTIONS, requestdistribution: core?.requestdistribution ?? 'zipfian', ...partial, workload: w };
}

/** Every problem with the options, one sentence each (empty when they are usable). */
export function validateOptions(o: YcsbOptions): string[] {
  const errs: string[] = [];
  if (!(o.workload in CORE_WORKLOADS)) errs.push(`unknown YCSB workload '${o.workload}' (expected one of ${Object.keys(CORE_WORKLOADS).join(', ')})`);
  if (!DISTRIBUTIONS.includes(o.requestdistribution)) errs.push(`unknown request distribution '${o.requestdistribution}' (expected ${DISTRIBUTIONS.join(', ')})`);
  const int = (name: keyof YcsbOptions, min: number, max: number) => {
    const v = o[name] as number;
    if (!Number.isInteger(v) || v < min || v > max) errs.push(`${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  };
  int('recordcount', 1, 2 ** 31 - 1);
  int('operationcount', 1, 2 ** 40);
  int('threads', 1, 4096);
  int('fieldcount', 1, 1000);
  int('fieldlength', 1, 1 << 20);
  int('maxscanlength', 1, 100_000);
  int('insertstart', 0, 2 ** 31 - 1);
  if (!(Number.isFinite(o.target) && o.target >= 0)) errs.push(`target must be a non-negative number of ops/s, got ${String(o.target)}`);
  if (!(Number.isFinite(o.maxexecutiontime) && o.maxexecutiontime >= 0)) errs.push(`maxexecutiontime must be a non-negative number of seconds, got ${String(o.maxexecutiontime)}`);
  return errs;
}

/** Operations a workload issues (what its output will have a section for). */
export function operationsOf(workload: string): Operation[] {
  const w = CORE_WORKLOADS[workload.toLowerCase()];
  if (!w) return [];
  const ops: Operation[] = [];
  if (w.read > 0 || w.readmodifywrite > 0) ops.push('READ');
  if (w.update > 0 || w.readmodifywrite > 0) ops.push('UPDATE');
  if (w.insert > 0) ops.push('INSERT');
  if (w.scan > 0) ops.push('SCAN');
  if (w.readmodifywrite > 0) ops.push('READ-MODIFY-WRITE');
  return ops;
}

/** YCSB's key name for a key number: "user" + FNV hash (hashed inserts, zero padding 1). */
export function keyName(keynum: number): string {
  return 'user' + u64ToString(fnvhash64(keynum));
}

export function fieldNames(fieldcount: number): string[] {
  return Array.from({ length: fieldcount }, (_, i) => `field${i}`);
}

/** Caches key names: the run phase names the same few hot keys again and again. */
export class KeyNames {
  private readonly cache: string[] = [];
  get(keynum: number): string {
    let k = this.cache[keynum];
    if (k === undefined) {
      k = keyName(keynum);
      if (keynum < 50_000_000) this.cache[keynum] = k;
    }
    return k;
  }
}

/** The shared, per-run choice state (one per client process, as YCSB's single CoreWorkload object). */
export class RunChooser {
  readonly insertSequence: AcknowledgedCounter;
  private readonly keyChooser: NumberGenerator;
  private readonly opChooser: DiscreteGenerator<Operation>;
  private readonly fieldChooser: UniformGenerator;
  private readonly scanLength: UniformGenerator;

  constructor(o: YcsbOptions, random: Random) {
    const w = CORE_WORKLOADS[o.workload]!;
    const insertcount = o.recordcount - o.insertstart;
    this.insertSequence = new AcknowledgedCounter(o.recordcount);
    this.opChooser = new DiscreteGenerator<Operation>(
      [
        ['READ', w.read],
        ['UPDATE', w.update],
        ['INSERT', w.insert],
        ['SCAN', w.scan],
        ['READ-MODIFY-WRITE', w.readmodifywrite],
      ],
      random,
    );
    switch (o.requestdistribution) {
      case 'uniform':
        this.keyChooser = new UniformGenerator(o.insertstart, o.insertstart + insertcount - 1, random);
        break;
      case 'zipfian': {
        // room for the keys this run inserts, as YCSB sizes it
        const expectedNewKeys = Math.floor(o.operationcount * w.insert * 2);
        this.keyChooser = new ScrambledZipfianGenerator(o.insertstart, o.insertstart + insertcount + expectedNewKeys, random);
        break;
      }
      case 'latest':
        this.keyChooser = new SkewedLatestGenerator(this.insertSequence, random);
        break;
      default:
        throw new Error(`unknown request distribution '${String(o.requestdistribution)}'`);
    }
    this.fieldChooser = new UniformGenerator(0, o.fieldcount - 1, random);
    this.scanLength = new UniformGenerator(1, o.maxscanlength, random);
  }

  operation(): Operation {
    return this.opChooser.next();
  }

  /** A key number that exists (YCSB re-draws numbers past the last acknowledged insert). */
  keynum(): number {
    const last = this.insertSequence.lastValue();
    for (let i = 0; i < 1000; i++) {
      const k = this.keyChooser.next();
      if (k <= last) return k;
    }
    return last;
  }

  field(): number {
    return this.fieldChooser.next();
  }

  scanLen(): number {
    return this.scanLength.next();
  }
}
