// Boot storm (issue 11; YOLO's simultaneous boots): N guests of one platform provisioned at once.
// Each guest's seconds from the common start to answering a command is a sample with its tenant
// index; all_ready_s is the time until the last one answered. A guest not ready within 90% of the
// run timeout is a DNF sample with its cause (the run goes on; the runner destroys it with its
// siblings, also when it is still being provisioned).
//
// `n<N>`: every guest on the platform's one shared image (a copy-on-write layer each); `n<N>-private`:
// every guest on its own full copy of the image (YOLO's private images), compared with `n<N>`. The
// copies are made (two at a time) and written out to disk BEFORE the common start: the storm times
// the boots, not the copies (each copy's size and time are in its guest's sample note).
// disk_bytes: what each guest occupies on the host's disk once all are ready (its copy-on-write
// layer, or its whole private copy), where the platform's guests report it.
import { UsageError, errorMessage } from '../core/errors.ts';
import type { Experiment, ExperimentMetric, ExperimentPlanContext, PrivateImage, ProfileName } from '../core/types.ts';
import { since } from './ready.ts';

const GiB = 1024 ** 3;
export const STORM_SIZES: Record<ProfileName, number[]> = { smoke: [1, 2], quick: [1, 2, 4, 8], paper: [1, 2, 4, 8, 16] };
/** Sizes that also get a private-image cell: at smoke only one small storm (each copy is a GB or so written). */
export const PRIVATE_SIZES: Record<ProfileName, number[] | 'all'> = { smoke: [2], quick: 'all', paper: 'all' };

/** `n4` -> 4 guests on the shared image; `n4-private` -> 4 guests each on its own copy. */
export function parseStormParam(param: string): { n: number; image: 'shared' | 'private' } {
  const m = param.match(/^n(\d+)(-private)?$/);
  if (!m) throw new Error(`storm: unknown parameter '${param}' (n<N> or n<N>-private)`);
  return { n: Number(m[1]), image: m[2] ? 'private' : 'shared' };
}

/** Each cell's reference: n<N> against n1, n<N>-private against n<N> (same N, shared image). */
export function stormReference(param: string): string | undefined {
  const { n, image } = parseStormParam(param);
  return image === 'private' ? `n${n}` : 'n1';
}

/**
 * The storm sizes of this run: the profile's (or --storm-sizes), each as n<N>, plus n<N>-private
 * for the profile's private sizes (every size given with --storm-sizes); --storm-images keeps only
 * the shared or the private ones. A profile size whose N
 * guests of the run's memory exceed 3/4 of the host's memory is left out with one line; a size the
 * user asked for with --storm-sizes that does not fit is bad input.
 */
export function stormParams(p: ExperimentPlanContext): { params: string[]; note?: string } {
  const most = Math.floor((0.75 * p.hostMemoryBytes) / p.memoryBytes);
  const why = (n: number) => `${n} guests of ${(p.memoryBytes / GiB).toFixed(2)} GiB exceed 3/4 of this host's ${(p.hostMemoryBytes / GiB).toFixed(1)} GiB memory`;
  if (p.stormSizes) {
    const big = p.stormSizes.find((n) => n > most);
    if (big !== undefined) throw new UsageError(`--storm-sizes ${big}: ${why(big)} (at most ${most} fit; give smaller sizes or a smaller --memory)`);
  }
  const sizes = p.stormSizes ?? STORM_SIZES[p.profile];
  const fit = sizes.filter((n) => n <= most);
  const cut = sizes.filter((n) => n > most);
  const privateSizes = p.stormSizes ? 'all' : PRIVATE_SIZES[p.profile];
  const images = p.stormImages ?? 'both';
  const params = fit.flatMap((n) => [
    ...(images !== 'private' ? [`n${n}`] : []),
    ...(images !== 'shared' && (privateSizes === 'all' || privateSizes.includes(n)) ? [`n${n}-private`] : []),
  ]);
  const note = cut.length ? `storm: N = ${cut.join(', ')} left out: ${why(cut[0]!)}` : undefined;
  return { params, ...(note ? { note } : {}) };
}

/** The note on a private storm's ready_s samples (one text, so that a summary row does not mix many). */
export const PRIVATE_NOTE = 'each guest on its own image copy, made and written out before the start (copy_s, untimed)';

/** Private copies made at once: two overlap one copy's reads and digest with the other's writes; more only queue on the disk. */
const COPY_PARALLEL = 2;

function race<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const storm: Experiment = {
  name: 'storm',
  resource: 'cpu',
  description: 'N guests launched at once on a shared image or each on a private copy: seconds until each answers a command, and until the last one does',
  metrics: [
    { metric: 'ready_s', unit: 's', better: 'lower' },
    { metric: 'all_ready_s', unit: 's', better: 'lower' },
    { metric: 'disk_bytes', unit: 'B', better: 'lower', optional: true },
    // private storms only: seconds each guest's copy took, before the start (never part of ready_s)
    { metric: 'copy_s', unit: 's', better: 'lower', optional: true },
  ],
  guestPackages: [],
  reference: stormReference,
  params: stormParams,
  imageCopies: (param) => {
    const { n, image } = parseStormParam(param);
    return image === 'private' ? n : 0;
  },
  // a private copy is about a GB written (some 10 s here) per guest, before the storm
  estimateS: (param) => {
    const { n, image } = parseStormParam(param);
    return 2 + n + (image === 'private' ? 10 * n : 0);
  },
  async run(ctx) {
    const { n, image } = parseStormParam(ctx.param);
    // untimed: every private copy made and on disk before the common start, COPY_PARALLEL at a time
    const copies: (PrivateImage | undefined)[] = Array.from({ length: n }, () => undefined);
    if (image === 'private') {
      let next = 0;
      const worker = async () => {
        for (let tenant = next++; tenant < n; tenant = next++) copies[tenant] = await ctx.copyImage(tenant);
      };
      await Promise.all(Array.from({ length: Math.min(COPY_PARALLEL, n) }, worker));
    }
    const limitMs = ctx.timeoutS * 900;
    const t0 = performance.now();
    const guests = await Promise.all(
      copies.map(async (copy, tenant) => {
        const note = copy ? PRIVATE_NOTE : undefined;
        try {
          const launched = (async () => {
            const guest = await ctx.provision(tenant, { image: copy });
            await guest.sh('true', { timeoutMs: ctx.timeoutS * 1000, signal: ctx.signal });
            return { guest, readyS: since(t0) };
          })();
          const { guest, readyS } = await race(launched, limitMs, `not ready within ${+(limitMs / 1000).toPrecision(3)} s`);
          return { guest, ready: { metric: 'ready_s', tenant, value: readyS, ...(note ? { note } : {}) } as ExperimentMetric };
        } catch (err) {
          return { guest: undefined, ready: { metric: 'ready_s', tenant, value: null, status: 'dnf', message: `guest ${tenant} of ${n} never ready: ${errorMessage(err)}` } as ExperimentMetric };
        }
      }),
    );
    const each = guests.map((g) => g.ready);
    const missing = each.filter((m) => m.status !== undefined).length;
    const all: ExperimentMetric = missing
      ? { metric: 'all_ready_s', value: null, status: 'dnf', message: `${missing} of ${n} guests never ready` }
      : { metric: 'all_ready_s', value: Math.max(...each.map((m) => m.value!)) };
    // once all are up (untimed): what each guest occupies on disk, where the platform says
    const disk: ExperimentMetric[] = [];
    for (const [tenant, { guest }] of guests.entries()) {
      if (!guest?.diskBytes) continue;
      try {
        disk.push({ metric: 'disk_bytes', tenant, value: await guest.diskBytes() });
      } catch (err) {
        disk.push({ metric: 'disk_bytes', tenant, value: null, status: 'error', message: errorMessage(err) });
      }
    }
    const copyS = copies.flatMap((c, tenant): ExperimentMetric[] => (c ? [{ metric: 'copy_s', tenant, value: c.seconds }] : []));
    return { metrics: [...each, all, ...disk, ...copyS] };
  },
};

export default storm;
