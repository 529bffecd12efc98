import test from 'ava';
import { readFileSync } from 'node:fs';
import { SPECJBB_PROFILES, heapMiB, javaCommand, parseSpecjbbOutput, specjbbMetrics, specjbbScore } from '../../workloads/specjbb-like.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/specjbb-like/${name}`, import.meta.url), 'utf8');

test('parses the steps of a real run (1 vCPU: warehouses 1..2), the warm-up line is not a step', (t) => {
  const r = parseSpecjbbOutput(fixture('host-1vcpu-smoke.txt'));
  t.is(r.steps.length, 2);
  t.deepEqual(r.steps[0], {
    warehouses: 1,
    ops: 179775,
    seconds: 4.001,
    bops: 44935.0,
    byType: { neworder: 78165, payment: 78163, orderstatus: 7816, delivery: 7815, stocklevel: 7816 },
  });
  t.is(r.steps[1]!.warehouses, 2);
  t.is(r.score, 86403.7);
  // the five transaction types in the deck's 10:10:1:1:1 mix
  for (const s of r.steps) {
    const total = Object.values(s.byType).reduce((a, b) => a + b, 0);
    t.is(total, s.ops);
    t.true(Math.abs(s.byType.neworder! / total - 10 / 23) < 0.01);
    t.true(Math.abs(s.byType.stocklevel! / total - 1 / 23) < 0.01);
  }
});

test('score: mean bops over the points from vCPUs to 2 x vCPUs; metrics need every step', (t) => {
  const r = parseSpecjbbOutput(fixture('host-1vcpu-smoke.txt'));
  t.is(specjbbScore(r.steps, 1), (44935.0 + 127872.4) / 2);
  const m = specjbbMetrics(r, 1);
  t.deepEqual(m.map((x) => [x.metric, x.value]), [
    ['bops', (44935.0 + 127872.4) / 2],
    ['bops-1wh', 44935.0],
    ['bops-peak', 127872.4],
  ]);
  t.throws(() => specjbbMetrics(r, 2), { message: /no result for 3, 4 warehouse/ });
  t.throws(() => parseSpecjbbOutput('Error: Could not find or load main class SpecJbbLike\n'), { message: /printed no step results: Error: Could not find/ });
  t.throws(() => parseSpecjbbOutput('step warehouses=1 ops=x seconds=4 bops=1\n'), { message: /unreadable step line/ });
});

test('heap from guest memory; the command ramps 1..2 x vCPUs with the profile interval', (t) => {
  t.is(heapMiB(1024 ** 3), 665);
  t.is(heapMiB(4 * 1024 ** 3), 2662);
  t.is(heapMiB(128 * 1024 ** 2), 256);
  const cmd = javaCommand({ dir: '/w/sj', heapMiB: 665, vcpus: 2, params: SPECJBB_PROFILES.paper, seed: 42 });
  t.regex(cmd, /^cd '\/w\/sj' && exec java '-Xms665m' '-Xmx665m' /);
  t.regex(cmd, /-XX:ActiveProcessorCount=2/);
  t.regex(cmd, /'--max-warehouses' '4' '--expected-peak' '2' '--warmup-ms' '30000' '--ramp-ms' '30000' '--measure-ms' '240000'/);
});
