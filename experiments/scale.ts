// Scaling (issue 12; the seeds' cold, warm and hot starts): how fast a new instance of an
// initialized application serves, per platform and method. Params `<app>-<method>`:
//   cold    start a guest from the image, put the app's data set in place, start the app (Redis
//           loads its RDB file, MariaDB opens its InnoDB tables)
//   warm    restore a checkpoint taken after the app initialized and served a little (needs
//           'checkpoint'); the source guest is gone before the restore
//   hot     live-clone a running, warmed instance (needs 'clone'), while a closed loop keeps the
//           source busy: its throughput during the clone against the seconds before is
//           source_slowdown
//   resume  un-pause an initialized, paused instance (needs 'pause'): the fallback where
//           checkpoints are unavailable
// Metrics: start_s (until the guest/instance runs: a cold guest answers a command; a restore or a
// clone returned; a resume returned), ready_s (until the app answers a request of its loaded
// data), image_bytes (the checkpoint's size on disk, warm), the first seconds of service as a
// closed loop against the new instance in 1-second buckets (ops_s_t<k>, latency_mean_ms_t<k>,
// latency_p50_ms_t<k>; first_ops_s over all of them; timeline.csv in the artifacts). Compared
// with the cold cell of the same app. A cold start's ready_s leaves out the seconds spent copying
// the data set into the fresh guest (an image of the app would hold it; copy_s in the note).
import { errorMessage } from '../core/errors.ts';
import { timelineMetric, timelineMetricSpecs } from '../core/timeline-metrics.ts';
import type { CapabilityName, Experiment, ExperimentContext, ExperimentMetric, ExperimentResult, Guest, ProfileName, RawOutput } from '../core/types.ts';
import { addressOf, portFor } from '../workloads/service-util.ts';
import { untilAnswered, type App, type AppContext, type Endpoint } from './apps/app.ts';
import { mariadbApp } from './apps/mariadb.ts';
import { redisApp } from './apps/redis.ts';
import { ClosedLoop, LOOP_CONNECTIONS, TIMELINE_S, bucketize, rateBetween, slowdown, type Bucket } from './closed-loop.ts';
import { launchUntilReady, since } from './ready.ts';

export const APPS: Record<string, App> = { redis: redisApp, mariadb: mariadbApp };
export const METHODS = ['cold', 'warm', 'hot', 'resume'] as const;
export type Method = (typeof METHODS)[number];

/** What each method needs of the platform (Experiment.needs). */
export const METHOD_NEEDS: Record<Method, CapabilityName | undefined> = { cold: undefined, warm: 'checkpoint', hot: 'clone', resume: 'pause' };

/** Apps per profile: at smoke only Redis (the CI budget: MariaDB's cells would double the suite's time). */
export const SCALE_APPS: Record<ProfileName, string[]> = { smoke: ['redis'], quick: ['redis', 'mariadb'], paper: ['redis', 'mariadb'] };

/** Seconds of load on a source before a clone starts (the rate its slowdown is measured against), and of warm-up traffic before a checkpoint, a pause or a clone. */
const BEFORE_S: Record<ProfileName, number> = { smoke: 2, quick: 3, paper: 5 };

export function parseScaleParam(param: string): { app: string; method: Method } {
  const m = /^([a-z]+)-(cold|warm|hot|resume)$/.exec(param);
  if (!m || !(m[1]! in APPS)) throw new Error(`scale: unknown parameter '${param}'`);
  return { app: m[1]!, method: m[2] as Method };
}

export function scaleParams(profile: ProfileName): { params: string[]; note?: string } {
  const apps = SCALE_APPS[profile];
  const left = Object.keys(APPS).filter((a) => !apps.includes(a));
  return { params: apps.flatMap((a) => METHODS.map((m) => `${a}-${m}`)), ...(left.length ? { note: `scale: ${left.join(', ')} cells run at quick and paper only (the smoke profile keeps Redis, for CI's budget)` } : {}) };
}

/** The closed loop against an instance for the profile's first seconds: buckets and the metrics of them. */
export async function serviceTimeline(app: App, at: Endpoint, ctx: ExperimentContext): Promise<{ buckets: Bucket[]; metrics: ExperimentMetric[]; errors: string[] }> {
  const seconds = TIMELINE_S[ctx.profile.name];
  const clients = await app.clients(at, LOOP_CONNECTIONS[ctx.profile.name], appContext(ctx));
  const loop = new ClosedLoop(clients.requests, seconds, ctx.signal);
  try {
    await loop.done;
  } finally {
    await clients.close();
  }
  const buckets = bucketize(loop.endMs, loop.latencyMs, seconds, loop.errorsAtMs);
  return { buckets, metrics: timelineMetrics(buckets, seconds), errors: loop.errorMessages };
}

/** Bucket k's ops/s, mean and median latency (an empty bucket: 0 ops/s and no latency); first_ops_s over them all. */
export function timelineMetrics(buckets: readonly Bucket[], seconds: number): ExperimentMetric[] {
  const out: ExperimentMetric[] = [];
  for (const b of buckets) {
    out.push({ metric: timelineMetric('ops_s', b.second), value: b.ops });
    if (b.meanMs !== null) out.push({ metric: timelineMetric('latency_mean_ms', b.second), value: b.meanMs });
    if (b.p50Ms !== null) out.push({ metric: timelineMetric('latency_p50_ms', b.second), value: b.p50Ms });
  }
  out.push({ metric: 'first_ops_s', value: buckets.reduce((a, b) => a + b.ops, 0) / seconds });
  return out;
}

export function timelineCsv(buckets: readonly Bucket[]): string {
  const f = (x: number | null) => (x === null ? '' : String(+x.toFixed(4)));
  return ['second,ops,mean_ms,p50_ms,p99_ms,errors', ...buckets.map((b) => `${b.second},${b.ops},${f(b.meanMs)},${f(b.p50Ms)},${f(b.p99Ms)},${b.errors}`)].join('\n') + '\n';
}

const appContext = (ctx: ExperimentContext): AppContext => ({ signal: ctx.signal, log: ctx.log, cacheDir: ctx.cacheDir, profile: ctx.profile.name });
const sleep = (s: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, s * 1000);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** An initialized instance: a guest with the app started over its data set and answering; `warm`: then served a little. */
async function initialized(app: App, data: string, ctx: ExperimentContext, warm: boolean): Promise<{ guest: Guest; at: Endpoint; port: number }> {
  const { guest } = await launchUntilReady(ctx, 0, performance.now());
  const dir = await app.install(guest, data, appContext(ctx));
  const port = portFor(guest.name, `scale-${app.name}`);
  const server = app.start(guest, dir, port);
  const at = { host: addressOf(guest), port };
  await untilAnswered(app, at, ctx.timeoutS * 1000, ctx.signal, server);
  if (warm) {
    const clients = await app.clients(at, LOOP_CONNECTIONS[ctx.profile.name], appContext(ctx));
    try {
      await new ClosedLoop(clients.requests, BEFORE_S[ctx.profile.name], ctx.signal).done;
    } finally {
      await clients.close();
    }
  }
  return { guest, at, port };
}

const scale: Experiment = {
  name: 'scale',
  resource: 'memory',
  description: 'a new instance of an initialized app (Redis, MariaDB with a data set): cold start, warm restore of a checkpoint, hot clone, resume of a paused one; seconds to running and to its first answer, and its first seconds of service',
  metrics: [
    { metric: 'start_s', unit: 's', better: 'lower' },
    { metric: 'ready_s', unit: 's', better: 'lower' },
    { metric: 'first_ops_s', unit: 'ops/s', better: 'higher' },
    { metric: 'image_bytes', unit: 'B', better: 'lower', optional: true },
    { metric: 'source_slowdown', unit: 'fraction', better: 'lower', optional: true },
    ...timelineMetricSpecs(),
  ],
  guestPackages: [...new Set(Object.values(APPS).flatMap((a) => a.guestPackages))],
  hostPackages: [...new Set(Object.values(APPS).flatMap((a) => a.hostPackages))],
  reference: (param) => `${parseScaleParam(param).app}-cold`,
  params: (p) => scaleParams(p.profile),
  needs: (param) => METHOD_NEEDS[parseScaleParam(param).method],
  // natively: a launch, the data set copied and loaded, warm-up and the timeline; warm and hot add a dump or a clone
  estimateS: (param, profile) => {
    const { method } = parseScaleParam(param);
    return 4 + TIMELINE_S[profile] + (method === 'cold' ? 0 : BEFORE_S[profile] + (method === 'resume' ? 1 : 6));
  },
  async run(ctx) {
    const { app: name, method } = parseScaleParam(ctx.param);
    const app = APPS[name]!;
    const data = await app.data(appContext(ctx));
    const values: ExperimentMetric[] = [];
    const notes: string[] = [`data: ${app.size(ctx.profile.name)}`];
    let at: Endpoint;
    let t0: number;
    if (method === 'cold') {
      t0 = performance.now();
      const { guest, readyS: startS } = await launchUntilReady(ctx, 0, t0);
      const c0 = performance.now();
      const dir = await app.install(guest, data, appContext(ctx));
      const copyS = since(c0);
      notes.push(`copy_s ${copyS.toFixed(3)} (data set into the fresh guest; left out of ready_s)`);
      const port = portFor(guest.name, `scale-${app.name}`);
      at = { host: addressOf(guest), port };
      const a0 = performance.now();
      const server = app.start(guest, dir, port);
      await untilAnswered(app, at, ctx.timeoutS * 1000, ctx.signal, server);
      values.push({ metric: 'start_s', value: startS }, { metric: 'ready_s', value: startS + since(a0), note: 'start_s + the app from its start to its first answer (data copy left out)' });
    } else if (method === 'warm') {
      const src = await initialized(app, data, ctx, true);
      const dir = await ctx.checkpointDir();
      const cp = await src.guest.checkpoint!(dir, { leaveRunning: false, signal: ctx.signal });
      await ctx.destroy(src.guest);
      notes.push(`checkpoint: ${cp.bytes} B in ${cp.seconds.toFixed(3)} s (${cp.stamp.tool})`);
      t0 = performance.now();
      const guest = await ctx.restore(cp);
      values.push({ metric: 'start_s', value: since(t0) }, { metric: 'image_bytes', value: cp.bytes, note: `checkpoint taken in ${cp.seconds.toFixed(3)} s by ${cp.stamp.tool}` });
      at = { host: addressOf(guest), port: src.port };
      await untilAnswered(app, at, ctx.timeoutS * 1000, ctx.signal);
      values.push({ metric: 'ready_s', value: since(t0) });
    } else if (method === 'hot') {
      const src = await initialized(app, data, ctx, false);
      // the source serves a closed loop from before the clone until it returns
      const clients = await app.clients(src.at, LOOP_CONNECTIONS[ctx.profile.name], appContext(ctx));
      const bg = new ClosedLoop(clients.requests, ctx.timeoutS, ctx.signal);
      let clone: Guest;
      let from: number;
      let to: number;
      try {
        await sleep(BEFORE_S[ctx.profile.name], ctx.signal);
        from = bg.now();
        t0 = performance.now();
        clone = await ctx.clone(src.guest);
        to = bg.now();
      } finally {
        bg.stop();
        await bg.done;
        await clients.close();
      }
      values.push({ metric: 'start_s', value: since(t0) });
      const before = rateBetween(bg.endMs, from - BEFORE_S[ctx.profile.name] * 1000, from);
      const during = rateBetween(bg.endMs, from, to);
      const lost = slowdown(before, during);
      notes.push(`source: ${before.toFixed(1)} ops/s in the ${BEFORE_S[ctx.profile.name]} s before the clone, ${during.toFixed(1)} during its ${((to - from) / 1000).toFixed(3)} s`);
      values.push(lost === undefined ? { metric: 'source_slowdown', value: null, status: 'error', message: `the source served nothing in the ${BEFORE_S[ctx.profile.name]} s before the clone${bg.errorMessages[0] ? `: ${bg.errorMessages[0]}` : ''}` } : { metric: 'source_slowdown', value: lost, note: '1 - source ops/s during the clone / in the seconds before' });
      at = { host: addressOf(clone), port: src.port };
      await untilAnswered(app, at, ctx.timeoutS * 1000, ctx.signal);
      values.push({ metric: 'ready_s', value: since(t0) });
    } else {
      const src = await initialized(app, data, ctx, true);
      await src.guest.pause!();
      await sleep(0.5, ctx.signal);
      t0 = performance.now();
      await src.guest.resume!();
      values.push({ metric: 'start_s', value: since(t0) });
      at = src.at;
      await untilAnswered(app, at, ctx.timeoutS * 1000, ctx.signal);
      values.push({ metric: 'ready_s', value: since(t0) });
    }
    const raw: RawOutput[] = [];
    try {
      const tl = await serviceTimeline(app, at, ctx);
      values.push(...tl.metrics);
      raw.push({ name: 'timeline.csv', text: timelineCsv(tl.buckets) });
      if (tl.errors.length) notes.push(`requests failed during the timeline: ${tl.errors.join(' | ')}`);
    } catch (err) {
      values.push({ metric: 'first_ops_s', value: null, status: 'error', message: `the closed loop against the new instance failed: ${errorMessage(err)}` });
    }
    raw.push({ name: 'scale.txt', text: `${ctx.param} on ${ctx.platform}\n${notes.join('\n')}\n` });
    return { metrics: values, raw } satisfies ExperimentResult;
  },
};

export default scale;
