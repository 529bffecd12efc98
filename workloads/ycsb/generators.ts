// YCSB's number generators, re-implemented from the published algorithms and constants (Gray et
// al.'s zipfian, YCSB's scrambled zipfian and skewed-latest, FNV-1 64-bit hashing of key numbers),
// so that the harness's client picks the same kind of keys Java YCSB picks.

/** A seeded uniform [0, 1) source (xoshiro128**): reproducible per client connection. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  // splitmix32 to spread the seed over the four words
  let s = seed >>> 0;
  const next32 = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = next32(), b = next32(), c = next32(), d = next32();
  return () => {
    const t = b << 9;
    let r = Math.imul(b, 5);
    r = Math.imul((r << 7) | (r >>> 25), 9);
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return (r >>> 0) / 4294967296;
  };
}

const TWO32 = 4294967296;
const FNV_PRIME_LOW = 0x1b3; // FNV 64-bit prime = 2^40 + 0x1b3

/** A 64-bit value as two unsigned 32-bit words. */
export interface U64 {
  hi: number;
  lo: number;
}

/**
 * YCSB's Utils.fnvhash64: FNV-1 over the 8 little-endian bytes of a non-negative long, then
 * Math.abs of the signed result. Done on 32-bit words: no BigInt on the per-operation path.
 */
export function fnvhash64(val: number): U64 {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  let v = val;
  for (let i = 0; i < 8; i++) {
    const octet = v % 256;
    v = Math.floor(v / 256);
    lo = (lo ^ octet) >>> 0;
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64
    const pLo = lo * FNV_PRIME_LOW; // < 2^41, exact
    const carry = Math.floor(pLo / TWO32);
    const newLo = pLo % TWO32;
    const newHi = (hi * FNV_PRIME_LOW + carry + ((lo * 256) % TWO32)) % TWO32;
    hi = newHi;
    lo = newLo;
  }
  if (hi >= 0x80000000) {
    // Math.abs of a negative long: two's complement (Long.MIN_VALUE stays itself, as in Java)
    const nlo = (TWO32 - lo) % TWO32;
    const nhi = (TWO32 - hi - (lo === 0 ? 0 : 1)) % TWO32;
    if (!(hi === 0x80000000 && lo === 0)) {
      hi = nhi;
      lo = nlo;
    }
  }
  return { hi, lo };
}

/** (hi*2^32 + lo) mod n for n < 2^37, without losing precision. */
export function modU64(x: U64, n: number): number {
  let r = x.hi % n;
  r = (r * 65536) % n;
  r = (r * 65536) % n;
  return (r + (x.lo % n)) % n;
}

/** Decimal digits of the value as Java's Long.toString prints it (Long.MIN_VALUE is negative). */
export function u64ToString(x: U64): string {
  const big = (BigInt(x.hi) << 32n) | BigInt(x.lo);
  return BigInt.asIntN(64, big).toString();
}

/** Java's String.hashCode, the score YCSB's Redis binding gives a key in its index. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

export interface NumberGenerator {
  next(): number;
}

export const ZIPFIAN_CONSTANT = 0.99;

export function zeta(n: number, theta: number, from = 0, initial = 0): number {
  let sum = initial;
  for (let i = from; i < n; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

/**
 * Gray et al.'s zipfian over [min, max], as YCSB's ZipfianGenerator: popular items are the small
 * numbers. The item count may grow (skewed-latest); zeta is then extended incrementally.
 */
export class ZipfianGenerator implements NumberGenerator {
  private items: number;
  private readonly base: number;
  private readonly theta: number;
  private readonly zeta2theta: number;
  private readonly alpha: number;
  private zetan: number;
  private eta: number;
  private countForZeta: number;

  constructor(
    min: number,
    max: number,
    private readonly random: Random,
    theta = ZIPFIAN_CONSTANT,
    zetan?: number,
  ) {
    this.items = max - min + 1;
    this.base = min;
    this.theta = theta;
    this.zeta2theta = zeta(2, theta);
    this.alpha = 1 / (1 - theta);
    this.zetan = zetan ?? zeta(this.items, theta);
    this.countForZeta = this.items;
    this.eta = this.computeEta();
  }

  private computeEta(): number {
    return (1 - Math.pow(2 / this.items, 1 - this.theta)) / (1 - this.zeta2theta / this.zetan);
  }

  /** Next value for `itemcount` items (YCSB's nextLong(itemcount)). */
  nextFor(itemcount: number): number {
    if (itemcount !== this.countForZeta) {
      if (itemcount > this.countForZeta) {
        this.zetan = zeta(itemcount, this.theta, this.countForZeta, this.zetan);
      } else {
        this.zetan = zeta(itemcount, this.theta);
      }
      this.items = itemcount;
      this.countForZeta = itemcount;
      this.eta = this.computeEta();
    }
    const u = this.random();
    const uz = u * this.zetan;
    if (uz < 1) return this.base;
    if (uz < 1 + Math.pow(0.5, this.theta)) return this.base + 1;
    return this.base + Math.floor(itemcount * Math.pow(this.eta * u - this.eta + 1, this.alpha));
  }

  next(): number {
    return this.nextFor(this.items);
  }
}

/** YCSB's ScrambledZipfianGenerator: zipfian popularity, popular items spread over the key space. */
export class ScrambledZipfianGenerator implements NumberGenerator {
  /** YCSB draws from a zipfian over 10^10 items with this precomputed zeta, then hashes. */
  static readonly ITEM_COUNT = 10_000_000_000;
  static readonly ZETAN = 26.46902820178302;
  private readonly gen: ZipfianGenerator;
  private readonly itemcount: number;

  constructor(
    private readonly min: number,
    max: number,
    random: Random,
  ) {
    this.itemcount = max - min + 1;
    this.gen = new ZipfianGenerator(0, ScrambledZipfianGenerator.ITEM_COUNT, random, ZIPFIAN_CONSTANT, ScrambledZipfianGenerator.ZETAN);
  }

  next(): number {
    return this.min + modU64(fnvhash64(this.gen.next()), this.itemcount);
  }
}

export class UniformGenerator implements NumberGenerator {
  constructor(
    private readonly lb: number,
    private readonly ub: number,
    private readonly random: Random,
  ) {}
  next(): number {
    return this.lb + Math.floor(this.random() * (this.ub - this.lb + 1));
  }
}

/**
 * The run phase's insert sequence (YCSB's AcknowledgedCounterGenerator): keys are handed out in
 * order, but only keys whose insert completed (contiguously) may be read.
 */
export class AcknowledgedCounter {
  private nextValue: number;
  private limit: number;
  private readonly acked = new Set<number>();

  constructor(start: number) {
    this.nextValue = start;
    this.limit = start - 1;
  }
  next(): number {
    return this.nextValue++;
  }
  acknowledge(v: number): void {
    this.acked.add(v);
    while (this.acked.has(this.limit + 1)) {
      this.acked.delete(this.limit + 1);
      this.limit++;
    }
  }
  lastValue(): number {
    return this.limit;
  }
}

/** YCSB's SkewedLatestGenerator: recently inserted keys are the most popular. */
export class SkewedLatestGenerator implements NumberGenerator {
  private readonly zipfian: ZipfianGenerator;
  constructor(
    private readonly basis: AcknowledgedCounter,
    random: Random,
  ) {
    this.zipfian = new ZipfianGenerator(0, Math.max(1, basis.lastValue()) - 1, random);
  }
  next(): number {
    const max = this.basis.lastValue();
    return max - this.zipfian.nextFor(Math.max(1, max));
  }
}

/** Picks one of several choices by weight (YCSB's DiscreteGenerator). */
export class DiscreteGenerator<T> {
  private readonly cumulative: number[] = [];
  private readonly values: T[] = [];
  private total = 0;
  constructor(
    choices: Array<[T, number]>,
    private readonly random: Random,
  ) {
    for (const [v, w] of choices) {
      if (w <= 0) continue;
      this.total += w;
      this.cumulative.push(this.total);
      this.values.push(v);
    }
  }
  next(): T {
    const u = this.random() * this.total;
    for (let i = 0; i < this.cumulative.length; i++) if (u < this.cumulative[i]!) return this.values[i]!;
    return this.values[this.values.length - 1]!;
  }
}
