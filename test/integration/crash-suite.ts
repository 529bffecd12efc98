// Entry point of the crash tests (not a test itself): the real runner with a one-row suite whose
// workload takes a second and reports two metrics (so that a run with one metric line missing can
// be told from a whole one), beside the real fork bomb. `node --import tsx crash-suite.ts [options]`.
import type { SuiteDefinition } from '../../core/matrix.ts';
import { runSuite } from '../../runner/index.ts';
import type { Workload } from '../../core/types.ts';
import { WORKLOADS } from '../../workloads/index.ts';

export const TICK: Workload = {
  name: 'tick',
  resource: 'cpu',
  description: 'one second of sleep and a little arithmetic in the guest (hand-made for the crash tests)',
  metrics: [
    { metric: 'tick_s', unit: 's', better: 'lower' },
    { metric: 'sum', unit: 'n', better: 'higher' },
  ],
  guestPackages: [],
  estimatedSeconds: { smoke: 2, quick: 2, paper: 2 },
  async setup() {},
  async run(guest, ctx) {
    const t0 = performance.now();
    const r = await guest.sh('sleep 1; echo $((20 + 22))', { signal: ctx.signal, timeoutMs: ctx.timeoutS * 1000 });
    return [
      { metric: 'tick_s', unit: 's', better: 'lower', value: (performance.now() - t0) / 1000 },
      { metric: 'sum', unit: 'n', better: 'higher', value: Number(r.stdout.trim()) },
    ];
  },
};

export const CRASH_SUITE: SuiteDefinition = {
  name: 'crashtest',
  description: 'crash tests: a one-second workload alone and beside the fork bomb',
  reference: 'no-neighbour',
  platforms: ['baremetal', 'lxc'],
  rows: [{ resource: 'cpu', workload: 'tick', neighbours: { adversarial: 'fork-bomb' } }],
};

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  WORKLOADS[TICK.name] = TICK;
  process.exitCode = await runSuite(CRASH_SUITE, process.argv.slice(2));
}
