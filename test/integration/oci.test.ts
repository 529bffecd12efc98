// The OCI container platform (Docker) for real: the image built from the cached rootfs, limits
// read back from the container's own cgroup files, commands, files both ways, the harness network
// both ways, a fork bomb bounded by pids.max, launch times, nothing left after destroy or after a
// run killed with SIGKILL (sweep), and a smoke isolation run beside a competing neighbour through
// the CLI. Measured on 2 cores: 1.5 minutes once the image is cached; its first build adds ~50 s.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { cleanupAll } from '../../core/cleanup.ts';
import { ensurePackages, memoryCeiling } from '../../core/host.ts';
import { PROFILES } from '../../core/profiles.ts';
import type { Guest, GuestSpec } from '../../core/types.ts';
import { ensureBridge } from '../../drivers/bridge.ts';
import { cgroupLayout, cgroupOf, settingsFor } from '../../drivers/cgroups.ts';
import baremetal from '../../drivers/baremetal.ts';
import docker, { DOCKER, containerName, readImageFacts } from '../../drivers/docker.ts';
import { ensureRootfs, recipeFor } from '../../drivers/rootfs.ts';
import forkBomb from '../../workloads/fork-bomb.ts';
import { allGuestPackages } from '../../workloads/index.ts';
import { tempDir } from '../tmp.ts';
import { dockerImageLeftovers, leftovers } from './leftovers.ts';
import { checkSummary, smokeRun } from './smoke.ts';
import { smokeContext } from '../smoke-context.ts';

const ctx = smokeContext;

const MiB = 1024 * 1024;
const spec = (name: string): GuestSpec => ({
  name, vcpus: 1, cpus: [1], cpuPolicy: 'cpuset', cpuShares: 512, memoryBytes: 256 * MiB, memoryLimit: 'hard',
  ioWeight: 300, pidsMax: 128, network: true, shares: [{ host: '/usr/share/doc/bash', guest: '/usr/share/doc/bash', readonly: true }],
});

const inspect = async (name: string, format: string) => (await execa(DOCKER, ['container', 'inspect', '--size', '--format', format, name])).stdout.trim();
const daemonRuns = async () => (await execa(DOCKER, ['version'], { reject: false })).exitCode === 0;

let tag = '';
/** A daemon the host runs itself is used and left running; only one the harness started is stopped. */
let systemDaemon = false;

test.before(async () => {
  // as a run does: the harness installs the platform's packages (docker.io) when they are missing
  await ensurePackages(docker.hostPackages, ctx.log);
  await docker.sweep?.();
  systemDaemon = await daemonRuns();
});

test.after.always(async () => {
  await cleanupAll();
});

test.serial('docker: image, limits, commands, files, network, a bounded fork bomb, launch time, nothing left', async (t) => {
  const probe = await docker.probe();
  t.true(probe.ok, probe.reason);
  const rootfs = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
  const t0 = performance.now();
  await docker.prepare!(ctx);
  const facts = readImageFacts(rootfs)!;
  tag = facts.tag;
  t.log(`prepare (daemon start and image, cached or built) ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t.log(`image ${facts.tag}: ${(facts.imageBytes / 1e6).toFixed(1)} MB on ${facts.storageDriver}, built ${facts.built} in ${facts.buildSeconds.toFixed(1)} s (tar ${facts.tarSeconds.toFixed(1)} s, docker build ${facts.dockerBuildSeconds.toFixed(1)} s, context ${(facts.contextBytes / 1e6).toFixed(0)} MB)`);
  for (const l of facts.layers) t.log(`  layer ${(l.bytes / 1e6).toFixed(3)} MB: ${l.createdBy.slice(0, 90)}`);
  t.true(facts.layers.some((l) => l.bytes > 100e6 && /ADD/.test(l.createdBy)), 'the root filesystem is a real layer');
  t.true(facts.layers.some((l) => /mkdir -p \/var\/tmp\/virtbench/.test(l.createdBy)), 'the harness layer is built by a RUN step');
  t.true(facts.imageBytes > 100e6);

  const g = await docker.provision(spec('vb-it-docker'), ctx);
  const name = containerName(g.name);
  try {
    t.log(`docker launch (docker run to the first command answered): ${g.bootSeconds?.toFixed(3)} s`);
    t.true(g.bootSeconds !== undefined && g.bootSeconds > 0 && g.bootSeconds < 30, 'launch time measured');
    const [sizeRw, id] = (await inspect(name, '{{.SizeRw}} {{.Id}}')).split(' ');
    const metaDir = join('/var/lib/docker/containers', id!);
    const meta = Number((await execa('du', ['-sb', metaDir])).stdout.split('\t')[0]);
    t.log(`disk increment of a new container: writable layer ${sizeRw} B, container dir ${meta} B`);

    // limits: the container's own cgroup files hold exactly what settingsFor() says
    const layout = cgroupLayout();
    const pid = Number(await inspect(name, '{{.State.Pid}}'));
    const rel = cgroupOf(pid, 'memory', layout)!;
    t.regex(rel, /^virtbench\/[0-9a-f]{64}$/, 'under the harness cgroup');
    const s = spec('vb-it-docker');
    let checked = 0;
    for (const st of settingsFor(s, layout.version, memoryCeiling(s))) {
      const file = join(layout.mounts[st.controller]!, rel, st.file);
      if (!existsSync(file)) {
        t.true((g as unknown as { notApplied: { file: string }[] }).notApplied.some((n) => n.file === st.file), `${st.file} missing and reported`);
        continue;
      }
      t.is(readFileSync(file, 'utf8').trim(), st.value, st.file);
      checked++;
    }
    t.log(`${checked} cgroup limit files read back from ${rel}`);
    t.true(checked >= 5);
    t.is((await g.sh('nproc')).stdout.trim(), '1', 'pinned to one CPU');
    t.is((await g.sh('taskset -pc $$ | sed "s/.*: //"')).stdout.trim(), '1', 'on host CPU 1');

    // commands, exit status, stdin, environment and working directory
    t.is((await g.sh('exit 3', { check: false })).exitCode, 3);
    await t.throwsAsync(g.sh('exit 4'), { message: /exited 4/ });
    t.is((await g.sh('tr a-z A-Z', { input: 'from stdin' })).stdout, 'FROM STDIN');
    t.is((await g.sh('echo $FOO; pwd', { env: { FOO: "a'b" }, cwd: '/tmp' })).stdout, "a'b\n/tmp\n");
    t.truthy((await g.sh('ls /usr/share/doc/bash')).stdout.trim(), 'share visible');
    t.not((await g.sh('touch /usr/share/doc/bash/x', { check: false })).exitCode, 0, 'share is read-only');

    // files both ways
    const dir = tempDir('vb-it-docker-');
    writeFileSync(join(dir, 'in'), 'to the guest\n');
    await g.pushFile(join(dir, 'in'), `${g.workdir}/in`);
    t.is((await g.sh(`cat ${g.workdir}/in`)).stdout, 'to the guest\n');
    await g.sh(`echo from the guest > ${g.workdir}/out`);
    await g.pullFile(`${g.workdir}/out`, join(dir, 'out'));
    t.is(readFileSync(join(dir, 'out'), 'utf8'), 'from the guest\n');

    // the harness network: host -> guest (a socat server in the guest) and guest -> host
    const addr = g.address()!;
    t.regex(addr, /^\d+\.\d+\.\d+\.\d+$/);
    const server = g.spawn('exec socat TCP-LISTEN:7777,reuseaddr SYSTEM:"echo pong"');
    const reply = await connectAndRead(addr, 7777, 10_000);
    server.kill('SIGKILL');
    t.is(reply.trim(), 'pong', `host reached ${addr}:7777`);
    const net = await ensureBridge();
    const got = new Promise<string>((resolve) => {
      const srv = createServer((c) => c.on('data', (d) => { resolve(d.toString()); c.end(); srv.close(); }));
      srv.listen(7778, net.hostAddress);
    });
    await g.sh(`echo ping > /dev/tcp/${net.hostAddress}/7778`);
    t.is((await got).trim(), 'ping', 'guest reached the host on the bridge');

    // memory: a 400 MB allocation fails under the 256 MB hard limit
    t.not((await g.sh('head -c 400M /dev/zero | tail > /dev/null', { check: false })).exitCode, 0, 'hard memory limit enforced');
    const slow = await g.sh('sleep 30', { timeoutMs: 1000, check: false });
    t.true(slow.timedOut);
    t.is((await g.sh('sleep 1; echo survived', { check: false })).stdout, 'survived\n', 'a timeout kills nothing started next');

    // fork bomb: bounded by pids.max, the host answers within 1 s, nothing survives the stop
    const running = await forkBomb.start(g, ctx);
    const latencies: number[] = [];
    let peakPids = 0;
    for (const until = Date.now() + 8_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const t1 = performance.now();
      await execa('true');
      latencies.push(performance.now() - t1);
      peakPids = Math.max(peakPids, (await g.usage()).pids ?? 0);
    }
    const report = await running.stop();
    t.log(`fork bomb peak ${peakPids} pids (limit 128), host probe max ${Math.max(...latencies).toFixed(0)} ms`, report.detail);
    t.true(peakPids > 20, 'the bomb really forked');
    t.true(peakPids <= 128, 'bounded by pids.max');
    t.true(Math.max(...latencies) < 1000, 'host answered within 1 s throughout');
    t.true(((await g.usage()).pids ?? 99) <= 2, 'no bomb process survives');
    t.is((await g.sh('echo alive')).stdout.trim(), 'alive', 'guest usable after killAll');
  } finally {
    await g.destroy();
  }
  t.deepEqual(await execa(DOCKER, ['ps', '--all', '--quiet', '--filter', `name=${name}`]).then((r) => r.stdout.trim()), '', 'container removed');

  // launch time over a few starts (each destroyed before the next)
  const boots: number[] = [];
  for (let i = 0; i < 5; i++) {
    const x: Guest = await docker.provision(spec(`vb-it-docker-${i}`), ctx);
    boots.push(x.bootSeconds!);
    await x.destroy();
  }
  t.log(`docker launch over ${boots.length} starts: ${boots.map((b) => b.toFixed(3)).join(', ')} s`);
  t.true(boots.every((b) => b > 0 && b < 30));

  // shared by every container until the run's cleanup: the bridge, the daemon, runc's parent groups
  const shared = (l: string) => !l.startsWith('bridge ') && !l.startsWith('docker state ') && !l.endsWith('(made by runc)');
  t.deepEqual((await leftovers()).filter(shared), [], 'only what every container shares remains until cleanup');
  t.deepEqual(await dockerImageLeftovers(tag), [], 'no image but the cached one');
});

test.serial('cleanup stops the daemon the harness started and removes the bridge and every cgroup', async (t) => {
  await cleanupAll();
  t.deepEqual(await leftovers(), []);
  if (!systemDaemon) t.false(await daemonRuns(), 'dockerd stopped: the harness started it');
});

test.serial('sweep removes what a killed run left: its container, veth, cgroups and the dockerd it started', async (t) => {
  // a run that is SIGKILLed right after starting a container cleans up nothing itself
  const code = [
    "import docker from './drivers/docker.ts';",
    "import { PROFILES } from './core/profiles.ts';",
    "import { allGuestPackages } from './workloads/index.ts';",
    'const ctx = { profile: PROFILES.smoke, cacheDir: "/var/cache/virtbench", guestPackages: allGuestPackages(), log: () => {}, signal: new AbortController().signal, timeoutS: 60, tiers: {} };',
    'await docker.prepare(ctx);',
    `await docker.provision(${JSON.stringify(spec('vb-it-docker-killed'))}, ctx);`,
    'console.log("ready");',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { reject: false, all: true });
  await new Promise<void>((resolve, reject) => {
    child.all!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    void child.then((r) => reject(new Error(`the child ended before its container was up: ${r.all}`)));
  });
  child.kill('SIGKILL');
  await child;
  t.true((await leftovers()).some((l) => l.startsWith('docker container ')), 'the killed run left its container');
  const found = await docker.sweep!();
  t.log(`sweep: ${found.join(', ')}`);
  t.true(found.includes(`docker container ${containerName('vb-it-docker-killed')}`));
  t.true(found.some((l) => /^dockerd \d+ started by an earlier run$/.test(l)), 'the dockerd the killed run started is stopped');
  // the killed run's harness cgroup, as the runner's sweep of bare metal removes it
  await baremetal.sweep!();
  t.deepEqual(await leftovers(), []);
  if (!systemDaemon) t.false(await daemonRuns());
});

test.serial('isolation smoke on docker: filebench and kernel-compile beside competing neighbours, 1 rep', async (t) => {
  const run = await smokeRun('isolation', ['--platforms', 'docker', '--workloads', 'filebench,kernel-compile', '--neighbours', 'competing', '--reps', '1']);
  t.log(`smoke isolation on docker: ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  t.is(run.manifest.cells.length, 4);
  for (const s of run.samples) t.log(`${s.cell} ${s.metric}=${s.value ?? s.status}${s.unit} boot ${s.bootSeconds?.toFixed(3)} s`);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.status} ${s.message}`), [], 'every smoke run finishes');
  t.true(run.samples.every((s) => s.platform === 'docker' && typeof s.bootSeconds === 'number' && s.bootSeconds > 0), 'samples carry the launch time');
  checkSummary(t, run, 1);
  t.deepEqual(await leftovers(), []);
  t.deepEqual(await dockerImageLeftovers(tag), []);
  if (!systemDaemon) t.false(await daemonRuns(), 'the run stopped the dockerd it started');
});

function connectAndRead(host: string, port: number, withinMs: number): Promise<string> {
  const until = Date.now() + withinMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      let data = '';
      const c = createConnection({ host, port });
      c.on('data', (d) => (data += d.toString()));
      c.on('end', () => resolve(data));
      c.on('error', (err) => {
        if (Date.now() > until) reject(err);
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}
