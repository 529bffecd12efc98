// Redis as the scaling experiment starts it: Debian's redis-server loading an RDB file of YCSB
// records (one hash per record, 10 fields of 100 bytes, as the ycsb-redis workload stores them).
// The RDB is made once per host and size on the host: a private redis-server on loopback, the
// harness's YCSB client's load phase, SAVE. Readiness: HGETALL of a loaded record answers with its
// fields (while Redis still loads the file it answers LOADING, which is not ready). The closed
// loop is YCSB workload A (50% HGETALL, 50% HMSET of one field, zipfian keys) through the YCSB
// client's own key names, choosers and RESP connection.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { guestShell } from '../../core/guest-shell.ts';
import { shellLine } from '../../core/shell-quote.ts';
import type { Guest, ProfileName } from '../../core/types.ts';
import { portFor, startServer, tcpOpen, type Server } from '../../workloads/service-util.ts';
import { runPhase } from '../../workloads/ycsb/client.ts';
import { KeyNames, RunChooser, fieldNames, keyName, resolveOptions } from '../../workloads/ycsb/core-workload.ts';
import { seededRandom } from '../../workloads/ycsb/generators.ts';
import { RespConnection, type Reply } from '../../workloads/ycsb/resp.ts';
import { bindAddress, type App, type AppContext, type Clients, type Endpoint } from './app.ts';

/** YCSB records loaded per profile (about 1.1 KB each in the RDB: smoke ~22 MB, quick ~220 MB, paper ~1.1 GB). */
export const REDIS_RECORDS: Record<ProfileName, number> = { smoke: 20_000, quick: 200_000, paper: 1_000_000 };

const isLoaded = (r: Reply) => Array.isArray(r) && r.length > 0;

async function buildRdb(file: string, records: number, ctx: AppContext): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  let port = 0;
  for (let attempt = 0; attempt < 5 && port === 0; attempt++) {
    const p = portFor(`scaling-data-${process.pid}`, 'redis', attempt);
    if (!(await tcpOpen('127.0.0.1', p, 300))) port = p;
  }
  if (port === 0) throw new Error('no free loopback port to build the Redis data set on');
  const t0 = performance.now();
  const server = execa('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', tmp, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--daemonize', 'no', '--logfile', ''], { reject: false, cancelSignal: ctx.signal, forceKillAfterDelay: 2000 });
  try {
    let c: RespConnection | undefined;
    for (let i = 0; i < 100 && !c; i++) c = await RespConnection.connect('127.0.0.1', port, 500).catch(async () => (await new Promise((r) => setTimeout(r, 100)), undefined));
    if (!c) throw new Error(`the data-building redis-server on 127.0.0.1:${port} never answered`);
    try {
      const o = resolveOptions({ workload: 'a', recordcount: records, operationcount: records, threads: 4 });
      await runPhase('load', o, '127.0.0.1', port, { signal: ctx.signal, workers: 1 });
      const saved = await c.command(['SAVE']);
      if (saved !== 'OK') throw new Error(`SAVE answered ${String(saved)}`);
    } finally {
      c.destroy();
    }
  } finally {
    server.kill('SIGTERM');
    await server;
  }
  await rename(join(tmp, 'dump.rdb'), file);
  await rm(tmp, { recursive: true, force: true });
  ctx.log(`scaling: Redis data set of ${records} YCSB records built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${file} (once per host)`);
}

export const redisApp: App = {
  name: 'redis',
  guestPackages: ['redis-server'],
  hostPackages: ['redis-server'],
  pollMs: 5,
  size: (profile) => `${REDIS_RECORDS[profile]} YCSB records (10 fields of 100 bytes) in an RDB file`,
  async data(ctx) {
    const records = REDIS_RECORDS[ctx.profile];
    const dir = join(ctx.cacheDir, 'scaling');
    const file = join(dir, `redis-ycsb-${records}.rdb`);
    if (existsSync(file)) return file;
    await mkdir(dir, { recursive: true });
    await buildRdb(file, records, ctx);
    return file;
  },
  async install(guest, data, ctx) {
    const dir = `${guest.workdir}/scale-redis`;
    await guestShell(guest, { signal: ctx.signal, timeoutMs: 30_000 })`rm -rf ${dir} && mkdir -p ${dir}`;
    await guest.pushFile(data, `${dir}/dump.rdb`);
    return dir;
  },
  start(guest: Guest, dir: string, port: number): Server {
    return startServer(guest, shellLine`cd ${dir} && exec redis-server --bind ${bindAddress(guest)} --port ${port} --dir ${dir} --dbfilename dump.rdb --save '' --appendonly no --protected-mode no --daemonize no --logfile '' --maxclients 4096`);
  },
  async ask(at: Endpoint) {
    const c = await RespConnection.connect(at.host, at.port, 1000);
    try {
      return isLoaded(await c.command(['HGETALL', keyName(0)]));
    } finally {
      c.destroy();
    }
  },
  async clients(at, connections, ctx): Promise<Clients> {
    const records = REDIS_RECORDS[ctx.profile];
    const o = resolveOptions({ workload: 'a', recordcount: records, operationcount: 2 ** 40, threads: connections });
    const random = seededRandom(Date.now() % 2 ** 31);
    const chooser = new RunChooser(o, random);
    const keys = new KeyNames();
    const fields = fieldNames(o.fieldcount);
    const value = () => Buffer.alloc(o.fieldlength, 97 + Math.floor(random() * 26));
    const conns: RespConnection[] = [];
    try {
      for (let i = 0; i < connections; i++) conns.push(await RespConnection.connect(at.host, at.port, 5000));
    } catch (err) {
      for (const c of conns) c.destroy();
      throw err;
    }
    const requests = conns.map((c) => async () => {
      const key = keys.get(chooser.keynum());
      if (chooser.operation() === 'READ') {
        const r = await c.command(['HGETALL', key]);
        if (!isLoaded(r)) throw new Error(`HGETALL ${key} answered no record`);
      } else {
        const r = await c.command(['HMSET', key, fields[chooser.field()]!, value()]);
        if (r !== 'OK') throw new Error(`HMSET ${key} answered ${String(r)}`);
      }
    });
    return { requests, close: async () => void (await Promise.all(conns.map((c) => c.close()))) };
  },
};
