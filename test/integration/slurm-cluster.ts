// A one-node Slurm cluster on this machine for tests: Debian's slurm-wlm (22.05) and munge, every
// file in a temporary directory (own slurm.conf with this node's real CPUs and memory from
// `slurmd -C`, own munge key and socket, spool and state directories, free ports), daemons in the
// foreground as children of the test, stopped by stop() after cancelling every job it ran.
// proctrack/linuxproc and task/none: no cgroup plugin (this host's cgroups are v1 and the harness
// makes its own).
import { execa, type ResultPromise } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const SLURM_TOOLS = ['munged', 'munge', 'slurmctld', 'slurmd', 'sbatch', 'scontrol', 'squeue', 'scancel', 'sinfo'];

/** The Slurm and munge programs this machine lacks (apt-get install slurm-wlm munge). */
export async function missingSlurmTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const t of SLURM_TOOLS) if ((await execa('sh', ['-c', `command -v ${t}`], { reject: false })).exitCode !== 0) missing.push(t);
  return missing;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface Cluster {
  dir: string;
  /** Environment for the Slurm clients (SLURM_CONF). */
  env: Record<string, string>;
  /** The node feature to pass as --constraint. */
  feature: string;
  log(name: 'slurmctld' | 'slurmd' | 'munged'): string;
  stop(): Promise<string[]>;
}

export async function startCluster(dir: string, feature = 'vbtest'): Promise<Cluster> {
  const daemons: { name: string; proc: ResultPromise }[] = [];
  const logDir = join(dir, 'log');
  for (const d of ['munge', 'munge-run', 'log', 'spool', 'state']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'munge'), 0o700);
  chmodSync(join(dir, 'munge-run'), 0o755);
  const key = join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = join(dir, 'munge-run', 'munge.socket');
  const conf = join(dir, 'slurm.conf');
  const env = { SLURM_CONF: conf };
  const start = (name: string, cmd: string, args: string[]) => {
    const proc = execa(cmd, args, { reject: false, stdio: 'ignore', env });
    daemons.push({ name, proc });
  };
  const stop = async (): Promise<string[]> => {
    const notes: string[] = [];
    // jobs first (a shard may be mid-run: the harness cleans up on SIGTERM), then the daemons
    if (daemons.some((d) => d.name === 'slurmctld')) {
      // every job of this cluster (SLURM_CONF names it; the test submits as root)
      await execa('scancel', ['-u', 'root'], { reject: false, env });
      for (let i = 0; i < 120; i++) {
        const q = await execa('squeue', ['-h', '-o', '%i %T'], { reject: false, env });
        if (q.exitCode !== 0 || q.stdout.trim() === '') break;
        if (i === 119) notes.push(`jobs still queued at stop: ${q.stdout.trim().replace(/\n/g, '; ')}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    for (const d of [...daemons].reverse()) {
      d.proc.kill('SIGTERM');
      const ended = await Promise.race([d.proc.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15000))]);
      if (!ended) {
        notes.push(`${d.name} ignored SIGTERM for 15 s: killed`);
        d.proc.kill('SIGKILL');
        await d.proc;
      }
    }
    daemons.length = 0;
    return notes;
  };
  try {
    start('munged', 'munged', ['--foreground', '--force', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(dir, 'munge-run', 'munged.pid')}`, `--log-file=${join(logDir, 'munged.log')}`, `--seed-file=${join(dir, 'munge', 'seed')}`]);
    for (let i = 0; ; i++) {
      if ((await execa('sh', ['-c', `munge -S '${socket}' -n | unmunge -S '${socket}'`], { reject: false })).exitCode === 0) break;
      if (i >= 50) throw new Error(`munged did not answer on ${socket} within 10 s: ${tail(join(logDir, 'munged.log'))}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // this node as slurmd sees it (CPUs, sockets, cores, threads, RealMemory)
    const node = (await execa('slurmd', ['-C'])).stdout.split('\n').find((l) => l.startsWith('NodeName='));
    if (!node) throw new Error('slurmd -C printed no NodeName line');
    const host = hostname();
    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    writeFileSync(
      conf,
      [
        'ClusterName=vbtest',
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${join(dir, 'state')}`,
        `SlurmdSpoolDir=${join(dir, 'spool')}`,
        `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
        `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
        `SlurmctldLogFile=${join(logDir, 'slurmctld.log')}`,
        `SlurmdLogFile=${join(logDir, 'slurmd.log')}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core_Memory',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'MpiDefault=none',
        'ReturnToService=2',
        'SchedulerType=sched/backfill',
        'SwitchType=switch/none',
        'MailProg=/bin/true',
        // finished jobs stay visible to scontrol for the test's checks
        'MinJobAge=3600',
        `${node.replace(/^NodeName=\S+/, `NodeName=${host}`)} NodeAddr=127.0.0.1 Feature=${feature} State=UNKNOWN`,
        'PartitionName=vbtest Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'),
    );
    start('slurmctld', 'slurmctld', ['-D', '-i', '-f', conf]);
    start('slurmd', 'slurmd', ['-D', '-f', conf, '-N', host]);
    for (let i = 0; ; i++) {
      const s = await execa('sinfo', ['-h', '-o', '%T'], { reject: false, env });
      if (s.exitCode === 0 && s.stdout.trim() === 'idle') break;
      if (i >= 60) throw new Error(`the node is not idle after 30 s (sinfo: ${s.stdout.trim() || s.stderr.trim()}); slurmctld: ${tail(join(logDir, 'slurmctld.log'))}; slurmd: ${tail(join(logDir, 'slurmd.log'))}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, env, feature, log: (name) => tail(join(logDir, `${name}.log`)), stop };
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return `(no ${file})`;
  }
}
