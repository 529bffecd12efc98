// Issue 12 figures for containers and bare metal, outside `npm test` (run it under
// the machine lock; under a minute here): the capability verdicts, pause and resume latency (median of N cycles on a
// guest running a counter, each pause checked to really stop the counter), and the memory in use
// (GuestUsage.memoryInUseBytes) of an idle lxc guest and of one running Redis with a data set.
//   flock /tmp/vb-machine.lock nice -n 10 npx tsx contrib/ct-caps-measure.ts [cycles=10] [keys=100000]
import { median } from 'simple-statistics';
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll } from '../core/cleanup.ts';
import type { Guest, GuestSpec } from '../core/types.ts';
import { criuError } from '../drivers/criu.ts';
import { DRIVERS } from '../drivers/index.ts';
import { LXC_PATH } from '../drivers/lxc.ts';
import { lxcCheckpointArgs } from '../drivers/lxc-criu.ts';
import { smokeContext as ctx } from '../test/smoke-context.ts';

const cycles = Number(process.argv[2] ?? 10);
const keys = Number(process.argv[3] ?? 100_000);
if (!(cycles > 0) || !(keys > 0)) {
  console.error('usage: ct-caps-measure.ts [cycles>0] [keys>0]');
  process.exit(2);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number | undefined) => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(1)} MiB`);
const spec = (name: string, memoryBytes = 256 * 2 ** 20): GuestSpec => ({
  name, vcpus: 1, cpus: [1], cpuPolicy: 'cpuset', cpuShares: 1024, memoryBytes, memoryLimit: 'hard', ioWeight: 500, pidsMax: 256, network: false, shares: [],
});

async function counter(g: Guest, scratch: string): Promise<number> {
  const local = join(scratch, 'counter');
  await rm(local, { force: true });
  await g.pullFile(`${g.workdir}/counter`, local);
  return Number((await readFile(local, 'utf8')).trim()) || 0;
}

async function pauseResume(platform: string, scratch: string): Promise<void> {
  const driver = DRIVERS[platform]!;
  const caps = await driver.capabilities!();
  for (const [k, c] of Object.entries(caps)) console.log(`${platform} ${k}: ${c.ok ? `ok (${c.how})` : `no: ${c.reason}`}`);
  await driver.prepare?.(ctx);
  const g = await driver.provision(spec(`vb-m-${platform}`), ctx);
  try {
    g.spawn(`i=0; while :; do i=$((i+1)); echo $i > ${g.workdir}/counter.tmp && mv ${g.workdir}/counter.tmp ${g.workdir}/counter; sleep 0.02; done`);
    await sleep(500);
    const p: number[] = [];
    const r: number[] = [];
    for (let i = 0; i < cycles; i++) {
      const t0 = performance.now();
      await g.pause!();
      p.push(performance.now() - t0);
      const a = await counter(g, scratch);
      await sleep(100);
      if ((await counter(g, scratch)) !== a) throw new Error(`${platform}: the counter moved while paused`);
      const t1 = performance.now();
      await g.resume!();
      r.push(performance.now() - t1);
      await sleep(200);
      if ((await counter(g, scratch)) === a) throw new Error(`${platform}: the counter did not go on after resume`);
    }
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(2)} ms (min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)}, n ${xs.length})`;
    console.log(`${platform} pause: ${fmt(p)}`);
    console.log(`${platform} resume: ${fmt(r)}`);
    if (platform === 'lxc') {
      await memoryInUse(g);
      await lxcCheckpointByHand(g, scratch);
    }
  } finally {
    await g.destroy();
  }
}

/** Idle guest, then Redis empty, then with `keys` values of 1000 bytes (YCSB's record size: 10 fields of 100 B). */
async function memoryInUse(counterGuest: Guest): Promise<void> {
  const show = async (g: Guest, what: string) => {
    await sleep(1000);
    const u = await g.usage();
    console.log(`lxc memory in use, ${what}: ${mib(u.memoryInUseBytes)} (cgroup charged ${mib(u.memoryBytes)})`);
  };
  await show(counterGuest, 'guest running the counter loop');
  const g = await DRIVERS.lxc!.provision(spec('vb-m-redis', 2 * 2 ** 30), ctx);
  try {
    await show(g, 'idle guest');
    // a guest without network has no loopback up: a Unix socket
    const server = g.spawn('exec redis-server --port 0 --unixsocket /tmp/redis.sock --save "" --appendonly no --enable-debug-command yes --daemonize no --logfile ""');
    for (let i = 0; i < 100; i++) {
      if ((await g.sh('redis-cli -s /tmp/redis.sock ping', { check: false })).stdout.trim() === 'PONG') break;
      await sleep(100);
      if (i === 99) throw new Error('redis-server did not answer within 10 s');
    }
    await show(g, 'redis-server, empty');
    const t0 = performance.now();
    await g.sh(`redis-cli -s /tmp/redis.sock debug populate ${keys} key 1000`, { timeoutMs: 120_000 });
    const info = await g.sh('redis-cli -s /tmp/redis.sock info memory | grep -E "^used_memory:|^used_memory_rss:"; redis-cli -s /tmp/redis.sock dbsize');
    console.log(`redis: ${keys} keys of 1000 B loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${info.stdout.trim().replace(/\r?\n/g, ', ')}`);
    await show(g, `redis-server with ${keys} keys of 1000 B`);
    server.kill();
  } finally {
    await g.destroy();
  }
}

/** What lxc-checkpoint itself says here (the harness refuses before it, on the CRIU probe's verdict). */
async function lxcCheckpointByHand(g: Guest, scratch: string): Promise<void> {
  const dir = join(scratch, 'lxc-checkpoint');
  const r = await execa('lxc-checkpoint', lxcCheckpointArgs({ lxcPath: LXC_PATH, name: g.name, dir, mode: 'dump', log: join(scratch, 'lxc-checkpoint.log') }), { reject: false, all: true, timeout: 60_000 });
  const logs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.log')) : [];
  const text = (await Promise.all(logs.map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
  console.log(`lxc-checkpoint dump: exit ${r.exitCode}; CRIU log ${logs.join(',') || 'none'}: ${criuError(text) ?? 'no error line'}; lxc-checkpoint: ${criuError(r.all ?? '') ?? ''}`);
  if (process.env.VB_KEEP_LXC_CHECKPOINT_LOG) for (const f of logs) await cp(join(dir, f), join(process.env.VB_KEEP_LXC_CHECKPOINT_LOG, f));
  console.log(`the guest still answers after it: ${(await g.sh('echo yes', { check: false })).stdout.trim() || 'no'}`);
}

const scratch = await mkdtemp(join(tmpdir(), 'vb-ct-measure-'));
try {
  for (const p of ['baremetal', 'lxc', 'docker']) await pauseResume(p, scratch);
} finally {
  await rm(scratch, { recursive: true, force: true });
  await cleanupAll();
}
