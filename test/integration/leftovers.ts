// What the harness might leave behind on this host: containers, cgroups, the bridge, processes.
// Every integration test asserts this is empty after it ran.
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BRIDGE } from '../../drivers/bridge.ts';
import { CONTROLLERS, HARNESS_GROUP, cgroupLayout } from '../../drivers/cgroups.ts';
import { LXC_PATH } from '../../drivers/lxc.ts';
import { GUESTS_DIR, STATE_DIR } from '../../core/host.ts';
import { TAP_PREFIX } from '../../drivers/kvm.ts';
import { BUILD_PROBE_REPO, CONTAINER_PREFIX, DOCKER, DOCKER_STATE, VETH_PREFIX, otherHierarchies, privateImagesOnDisk } from '../../drivers/docker.ts';
import { IMAGE_BUILD_DIR } from '../../experiments/image.ts';
import { COW_TAR_DIR } from '../../experiments/cow.ts';

export async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  if (existsSync(LXC_PATH)) for (const n of readdirSync(LXC_PATH)) found.push(`lxc dir ${n}`);
  if (existsSync(GUESTS_DIR)) for (const n of readdirSync(GUESTS_DIR)) found.push(`baremetal dir ${n}`);
  const layout = cgroupLayout();
  for (const c of CONTROLLERS) {
    const mount = layout.mounts[c];
    if (!mount) continue;
    const group = join(mount, HARNESS_GROUP);
    if (existsSync(group)) for (const e of readdirSync(group, { withFileTypes: true })) if (e.isDirectory()) found.push(`cgroup ${c}/${HARNESS_GROUP}/${e.name}`);
    for (const e of readdirSync(mount, { withFileTypes: true })) if (e.isDirectory() && /^lxc\.(payload|monitor)\.vb/.test(e.name)) found.push(`cgroup ${c}/${e.name}`);
  }
  const link = await execa('ip', ['link', 'show', BRIDGE], { reject: false });
  if (link.exitCode === 0) found.push(`bridge ${BRIDGE}`);
  const ps = await execa('pgrep', ['-a', '-f', `^\\[lxc monitor\\] ${LXC_PATH} `], { reject: false });
  for (const l of ps.stdout.split('\n').filter(Boolean)) found.push(`process ${l}`);
  found.push(...(await dockerTraces()));
  // the lifecycle suite's image builds and cow tars, and docker's plain directories
  for (const d of [IMAGE_BUILD_DIR, COW_TAR_DIR, join(STATE_DIR, 'docker-plain')]) if (existsSync(d)) for (const n of readdirSync(d)) found.push(`${d}/${n}`);
  // the CRIU probe's directory (issue 12)
  if (existsSync(STATE_DIR)) for (const n of readdirSync(STATE_DIR).filter((x) => x.startsWith('criu-probe-'))) found.push(`${STATE_DIR}/${n}`);
  return [...new Set(found)];
}

/** Docker: containers by the harness's name prefix, host ends of its veths, a dockerd it started (its state dir). */
async function dockerTraces(): Promise<string[]> {
  const found: string[] = [];
  const veths = await execa('ip', ['-o', 'link', 'show', 'type', 'veth'], { reject: false });
  for (const m of veths.stdout.matchAll(new RegExp(`^\\d+: (${VETH_PREFIX}[^:@]*)`, 'gm'))) found.push(`veth ${m[1]}`);
  for (const m of otherHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    if (existsSync(join(m, HARNESS_GROUP))) found.push(`cgroup ${join(m, HARNESS_GROUP)} (made by runc)`);
  }
  if (existsSync(DOCKER_STATE)) found.push(`docker state ${DOCKER_STATE} (a dockerd the harness started)`);
  // private images (a guest's own copy of the image) outlive a stopped daemon in its tag file
  for (const tag of privateImagesOnDisk()) found.push(`docker private image ${tag}`);
  if (existsSync(DOCKER)) {
    // no daemon, no containers to list: the state dir above covers a daemon the harness left
    const ps = await execa(DOCKER, ['ps', '--all', '--format', '{{.Names}}'], { reject: false, timeout: 15_000 });
    for (const n of ps.stdout.split('\n').filter((x) => x.startsWith(CONTAINER_PREFIX))) found.push(`docker container ${n}`);
    const probes = await execa(DOCKER, ['images', BUILD_PROBE_REPO, '--format', '{{.Repository}}:{{.Tag}}'], { reject: false, timeout: 15_000 });
    for (const n of probes.stdout.split('\n').filter(Boolean)) found.push(`docker image ${n}`);
  }
  return found;
}

/** Docker images of the harness (repository virtbench/guest) other than `keep`, and dangling ones it labelled. */
export async function dockerImageLeftovers(keep: string): Promise<string[]> {
  const tags = await execa(DOCKER, ['images', 'virtbench/guest', '--format', '{{.Repository}}:{{.Tag}}'], { reject: false });
  const dangling = await execa(DOCKER, ['images', '--quiet', '--filter', 'dangling=true', '--filter', 'label=virtbench.rootfs'], { reject: false });
  return [
    ...tags.stdout.split('\n').filter((t) => t && t !== keep).map((t) => `docker image ${t}`),
    ...dangling.stdout.split('\n').filter(Boolean).map((i) => `dangling docker image ${i}`),
  ];
}

/** QEMU processes of this harness instance's VM guests (their console files live under its state dir). */
export async function qemuProcesses(): Promise<string[]> {
  const r = await execa('pgrep', ['-a', '-f', `qemu-system-x86_64 .*${STATE_DIR}/`], { reject: false });
  return r.stdout.split('\n').filter(Boolean);
}

/** What a VM platform could leave: QEMU processes, guest directories (overlays, sockets), and the rest of leftovers(). */
export async function vmLeftovers(): Promise<string[]> {
  const found = await qemuProcesses();
  for (const p of ['kvm', 'lightvm']) {
    const dir = join(STATE_DIR, p);
    if (existsSync(dir)) for (const n of readdirSync(dir)) found.push(`${p} guest dir ${n}`);
  }
  const taps = await execa('ip', ['-o', 'link', 'show', 'type', 'tun'], { reject: false });
  for (const m of taps.stdout.matchAll(new RegExp(`^\\d+: (${TAP_PREFIX}[^:@]*)`, 'gm'))) found.push(`tap ${m[1]}`);
  // other helpers' containers may run beside this test on a shared host: only this harness's traces count
  return [...found, ...(await leftovers()).filter((l) => !l.includes('lxc dir'))];
}
