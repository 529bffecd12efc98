// MariaDB as the scaling experiment starts it (the seeds' MySQL): Debian's mariadbd over a data
// directory holding one InnoDB table `vb.kv` of N rows (id, a 64-character value), made once per
// host and size on the host (mariadb-install-db, a private server on a socket without networking,
// rows from MariaDB's sequence engine, a clean shutdown) and kept as a tar file. Readiness: a
// SELECT of a loaded row over TCP from the host answers with it. The closed loop: point SELECTs and
// UPDATEs (50/50, uniform ids) through one persistent `mariadb` client process per connection on
// the host (batch mode, unbuffered: one output line per request), so no client library is needed.
import { execa } from 'execa';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { guestShell } from '../../core/guest-shell.ts';
import { shellLine } from '../../core/shell-quote.ts';
import type { Guest, ProfileName } from '../../core/types.ts';
import { startServer, type Server } from '../../workloads/service-util.ts';
import { bindAddress, type App, type AppContext, type Clients, type Endpoint } from './app.ts';

/** Rows of vb.kv per profile (about 100 bytes each with InnoDB's overhead: smoke ~2 MB, quick ~100 MB, paper ~500 MB). */
export const MARIADB_ROWS: Record<ProfileName, number> = { smoke: 20_000, quick: 1_000_000, paper: 5_000_000 };
/** The harness's user in its data sets (no password: the server is reachable only on the harness network or loopback). */
const USER = 'vb';

async function buildDatadir(file: string, rows: number, ctx: AppContext): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await buildInto(tmp, file, rows, ctx);
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await rm(`${tmp}.tar`, { force: true });
  }
}

async function buildInto(tmp: string, file: string, rows: number, ctx: AppContext): Promise<void> {
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const t0 = performance.now();
  const sock = join(tmp, 'build.sock');
  const opts = { cancelSignal: ctx.signal, timeout: 1_800_000 };
  await execa('mariadb-install-db', ['--no-defaults', `--datadir=${tmp}/data`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve', '--force'], opts);
  const server = execa('mariadbd', ['--no-defaults', `--datadir=${tmp}/data`, '--user=root', `--socket=${sock}`, `--pid-file=${tmp}/build.pid`, '--skip-networking', `--log-error=${tmp}/build.err`, '--innodb-buffer-pool-size=256M'], { reject: false, cancelSignal: ctx.signal, forceKillAfterDelay: 5000 });
  try {
    for (let i = 0; ; i++) {
      if ((await execa('mariadb-admin', [`--socket=${sock}`, '-uroot', 'ping'], { reject: false })).exitCode === 0) break;
      if (i > 300) throw new Error('the data-building mariadbd never answered');
      await new Promise((r) => setTimeout(r, 100));
    }
    const sql = [
      'CREATE DATABASE vb',
      'CREATE TABLE vb.kv (id INT PRIMARY KEY, v CHAR(64) NOT NULL) ENGINE=InnoDB',
      `INSERT INTO vb.kv SELECT seq, SHA2(seq, 256) FROM vb.seq_1_to_${rows}`,
      `CREATE USER '${USER}'@'%'`,
      `GRANT SELECT, UPDATE ON vb.* TO '${USER}'@'%'`,
    ].join('; ');
    await execa('mariadb', [`--socket=${sock}`, '-uroot', '-e', sql], opts);
    await execa('mariadb-admin', [`--socket=${sock}`, '-uroot', 'shutdown'], opts);
  } finally {
    server.kill('SIGTERM');
    await server;
  }
  await execa('tar', ['-C', tmp, '-cf', `${tmp}.tar`, 'data'], opts);
  await rename(`${tmp}.tar`, file);
  await rm(tmp, { recursive: true, force: true });
  ctx.log(`scaling: MariaDB data set of ${rows} rows built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${file} (once per host)`);
}

const clientArgs = (at: Endpoint) => ['-h', at.host, '-P', String(at.port), '-u', USER, '--protocol=TCP', '--skip-ssl', '--connect-timeout=2', '-N', '-B'];

/** One persistent client process: a request is a statement line, answered by exactly one output line. */
function lineClient(at: Endpoint): { ask: (sql: string) => Promise<string>; close: () => Promise<void>; proc: ChildProcessWithoutNullStreams } {
  const proc = spawn('mariadb', [...clientArgs(at), '--unbuffered', 'vb'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  let failure: Error | undefined;
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
  createInterface({ input: proc.stdout }).on('line', (l) => waiting.shift()?.resolve(l));
  const fail = (e: Error) => {
    failure = e;
    for (const w of waiting.splice(0)) w.reject(e);
  };
  proc.on('exit', (code) => fail(new Error(`mariadb client to ${at.host}:${at.port} exited ${code}: ${stderr.trim().split('\n').pop() ?? ''}`)));
  proc.on('error', fail);
  proc.stdin.on('error', () => undefined);
  return {
    proc,
    ask: (sql) =>
      new Promise<string>((resolve, reject) => {
        if (failure) return reject(failure);
        waiting.push({ resolve, reject });
        proc.stdin.write(sql + '\n');
      }),
    close: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.stdin.end();
      const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(t);
    },
  };
}

export const mariadbApp: App = {
  name: 'mariadb',
  guestPackages: ['mariadb-server', 'mariadb-client'],
  hostPackages: ['mariadb-server', 'mariadb-client'],
  pollMs: 20,
  size: (profile) => `${MARIADB_ROWS[profile]} rows of one InnoDB table`,
  async data(ctx) {
    const rows = MARIADB_ROWS[ctx.profile];
    const dir = join(ctx.cacheDir, 'scaling');
    const file = join(dir, `mariadb-kv-${rows}.tar`);
    if (existsSync(file)) return file;
    await mkdir(dir, { recursive: true });
    await buildDatadir(file, rows, ctx);
    return file;
  },
  async install(guest, data, ctx) {
    const dir = `${guest.workdir}/scale-mariadb`;
    const $g = guestShell(guest, { signal: ctx.signal, timeoutMs: 300_000 });
    await $g`rm -rf ${dir} && mkdir -p ${dir}`;
    await guest.pushFile(data, `${dir}/data.tar`);
    await $g`tar -C ${dir} -xf ${dir}/data.tar && rm ${dir}/data.tar`;
    return dir;
  },
  start(guest: Guest, dir: string, port: number): Server {
    const pool = Math.max(64, Math.floor(guest.spec.memoryBytes / 4 / 1024 ** 2));
    return startServer(
      guest,
      shellLine`exec mariadbd --no-defaults --datadir=${dir}/data --user=root --socket=${dir}/mysqld.sock --pid-file=${dir}/mysqld.pid --port=${port} --bind-address=${bindAddress(guest)} --skip-name-resolve --log-error=${dir}/error.log --innodb-buffer-pool-size=${pool}M --max-connections=200`,
    );
  },
  async ask(at, signal) {
    const r = await execa('mariadb', [...clientArgs(at), '-e', 'SELECT v FROM vb.kv WHERE id = 1'], { reject: false, timeout: 5000, ...(signal ? { cancelSignal: signal } : {}) });
    return r.exitCode === 0 && /^[0-9a-f]{64}$/.test(String(r.stdout).trim());
  },
  async clients(at, connections, ctx): Promise<Clients> {
    const rows = MARIADB_ROWS[ctx.profile];
    const clients = Array.from({ length: connections }, () => lineClient(at));
    const id = () => 1 + Math.floor(Math.random() * rows);
    const requests = clients.map((c) => async () => {
      if (Math.random() < 0.5) {
        const v = await c.ask(`SELECT v FROM kv WHERE id = ${id()};`);
        if (!/^[0-9a-f]{64}$/.test(v)) throw new Error(`SELECT answered '${v.slice(0, 80)}'`);
      } else {
        const n = await c.ask(`UPDATE kv SET v = SHA2(RAND(), 256) WHERE id = ${id()}; SELECT ROW_COUNT();`);
        if (n !== '1') throw new Error(`UPDATE changed '${n.slice(0, 80)}' rows`);
      }
    });
    return { requests, close: async () => void (await Promise.all(clients.map((c) => c.close()))) };
  },
};
