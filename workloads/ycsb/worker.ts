// One worker thread of the YCSB client: runs its share of the connections (client.ts runShare),
// starts its timed part when the parent says go, and posts its measurements back as plain data.
import { parentPort, workerData } from 'node:worker_threads';
import { runShare, type Share } from './client.ts';
import type { YcsbOptions } from './core-workload.ts';

const { phase, o, host, port, share } = workerData as { phase: 'load' | 'run'; o: YcsbOptions; host: string; port: number; share: Share };
const port0 = parentPort!;
const stop = new AbortController();
let go!: () => void;
const started = new Promise<void>((r) => (go = r));
port0.on('message', (m: string) => {
  if (m === 'go') go();
  else if (m === 'stop') {
    stop.abort();
    go();
  }
});
runShare(phase, o, host, port, share, {
  signal: stop.signal,
  ready: async () => {
    port0.postMessage({ type: 'ready' });
    await started;
  },
  progress: (done, intervals) => port0.postMessage({ type: 'progress', done, intervals }),
}).then(
  (outcome) => port0.postMessage({ type: 'result', outcome }),
  (err: unknown) => port0.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);
