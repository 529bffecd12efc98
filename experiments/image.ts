// Image build time and size (issue 11; the study's Tables 3 and 4): each platform's own step that
// makes what its guests start from, out of the harness's cached Debian root filesystem, done fresh
// into a temporary place of its own (the shared caches the other cells use are never touched),
// timed, measured (allocated bytes, as du counts them; docker: the image's size), then removed.
//   docker   tar of the rootfs + `docker build --no-cache` through the driver's Dockerfile
//   kvm      the ext4 disk image of the rootfs (mke2fs -d, then qcow2), as the driver builds it
//   lxcvm    the same disk image of the rootfs with LXC (the VM's); its containers use lxc's rootfs
//            over 9p, so image_bytes is that disk plus the containers' rootfs directory
//   lightvm  nothing but the empty scratch disk (its root is the rootfs directory shared over 9p):
//            build_s is that disk's, image_bytes the rootfs directory plus the disk
//   lxc      the rootfs itself is the overlay's lower directory: its build is the debootstrap,
//            measured fresh (into a temporary directory) at the paper profile only (6-8 minutes
//            here, and it needs Debian's package archive); below paper build_s is the time the
//            cache recorded when it built the rootfs, and says so in its note
//   baremetal runs the host's own programs: no image, no cell
// rootfs_s, on every platform: the debootstrap time the cache recorded for the rootfs used (the
// base step under every platform's own one), not re-measured.
// Smoke keeps it cheap: docker's image leaves the rootfs's largest trees and files out (its note
// says so; the whole build takes about 45 s here, twice that per smoke test of 2 repetitions).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { onCleanup } from '../core/cleanup.ts';
import { STATE_DIR } from '../core/host.ts';
import type { Experiment, ExperimentContext, ExperimentMetric, ProfileName } from '../core/types.ts';
import { treeUsageBytes } from '../drivers/disk-usage.ts';
import { BUILD_PROBE_REPO, buildImage, removeImage } from '../drivers/docker.ts';
import { debootstrapInto, ensureRootfs, recipeFor, rootfsRecord } from '../drivers/rootfs.ts';
import { diskSizeGiB, diskUsageBytes, mkfsImage } from '../drivers/vm-image.ts';

/** Temporary places of image builds are made under here (one per run, removed after it). */
export const IMAGE_BUILD_DIR = join(STATE_DIR, 'image-build');
/**
 * At smoke, docker's image leaves out these largest trees of the rootfs and every file over
 * SMOKE_MAX_FILE (a cheaper build that still has a shell and libc for its RUN step).
 */
export const SMOKE_EXCLUDE = ['usr/lib/jvm', 'usr/lib/gcc', 'usr/lib/python3.11', 'usr/libexec', 'usr/include', 'usr/share', 'var/lib', 'var/cache', 'var/log'];
const SMOKE_MAX_FILE = '2M';

/** The smoke variant's left-out paths: the trees above, and the rootfs's files over SMOKE_MAX_FILE. */
async function smokeExclusions(rootfs: string): Promise<string[]> {
  const big = await execa('find', ['.', '-xdev', '-type', 'f', '-size', `+${SMOKE_MAX_FILE}`], { cwd: rootfs });
  return [...SMOKE_EXCLUDE, ...big.stdout.split('\n').filter(Boolean).map((p) => p.replace(/^\.\//, ''))];
}

/** Why a platform has no image cell, or undefined. */
export function imageSkip(platform: string): string | undefined {
  return platform === 'baremetal' ? 'bare metal runs the host’s own programs: there is no image to build' : undefined;
}

interface Built {
  buildS: number;
  bytes: number;
  note: string;
}

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;

async function build(ctx: ExperimentContext, place: string, rootfs: string): Promise<Built> {
  const smoke = ctx.profile.name === 'smoke';
  const vmDisk = async (from: string, what: string): Promise<Built> => {
    const file = join(place, 'disk.qcow2');
    const t0 = performance.now();
    await mkfsImage(file, diskSizeGiB(), 'vbroot', from);
    return { buildS: (performance.now() - t0) / 1000, bytes: diskUsageBytes(file), note: what };
  };
  switch (ctx.platform) {
    case 'docker': {
      const tag = `${BUILD_PROBE_REPO}:${place.split('/').at(-1)!.toLowerCase()}`;
      const undo = onCleanup(`docker image ${tag}`, () => removeImage(tag));
      try {
        const f = await buildImage(rootfs, tag, join(place, 'context'), ctx.log, { noCache: true, signal: ctx.signal, ...(smoke ? { exclude: await smokeExclusions(rootfs) } : {}) });
        const subsetNote = smoke ? `; smoke variant: the rootfs without ${SMOKE_EXCLUDE.join(', ')} and without its files over ${SMOKE_MAX_FILE}iB, not the whole rootfs` : '';
        const layers = f.layers.filter((l) => l.bytes > 0).map((l) => `${mb(l.bytes)} (${l.createdBy.replace(/^\/bin\/sh -c (#\(nop\) )?/, '').slice(0, 40)})`);
        return {
          buildS: f.buildSeconds,
          bytes: f.imageBytes,
          note: `tar ${f.tarSeconds.toFixed(1)} s + docker build --no-cache ${f.dockerBuildSeconds.toFixed(1)} s; image size from docker image inspect, layers ${layers.join(', ')}; ${f.storageDriver}, docker ${f.dockerVersion}${subsetNote}`,
        };
      } finally {
        await undo();
      }
    }
    case 'kvm':
      return vmDisk(rootfs, 'ext4 disk image of the rootfs (mke2fs -d, qemu-img convert to qcow2); bytes allocated on the host');
    case 'lxcvm': {
      const vm = await vmDisk(await ensureRootfs(recipeFor([...ctx.guestPackages, 'lxc']), ctx.log), 'the VM disk (rootfs with LXC: mke2fs -d, qcow2)');
      const containers = await treeUsageBytes(rootfs);
      return { ...vm, bytes: vm.bytes + containers, note: `${vm.note}; image_bytes adds the containers' rootfs directory (${mb(containers)}, lxc's, shared into the VM over 9p and not built here)` };
    }
    case 'lightvm': {
      const file = join(place, 'scratch.qcow2');
      const t0 = performance.now();
      await mkfsImage(file, diskSizeGiB(), 'vbscratch');
      const buildS = (performance.now() - t0) / 1000;
      const shared = await treeUsageBytes(rootfs);
      const disk = diskUsageBytes(file);
      return { buildS, bytes: shared + disk, note: `only the empty scratch disk is built (ext4, qcow2: ${mb(disk)}); the root is the rootfs directory shared over 9p (${mb(shared)}), counted in image_bytes` };
    }
    case 'lxc': {
      if (ctx.profile.name === 'paper') {
        const dir = join(place, 'rootfs');
        const buildS = await debootstrapInto(recipeFor(ctx.guestPackages), dir, ctx.signal);
        return { buildS, bytes: await treeUsageBytes(dir), note: 'fresh debootstrap of the rootfs (the overlay lower directory) into a temporary directory' };
      }
      const rec = rootfsRecord(rootfs);
      if (rec?.builtSeconds === undefined) throw new Error(`the cached rootfs ${rootfs} does not record its build time`);
      return {
        buildS: rec.builtSeconds,
        bytes: await treeUsageBytes(rootfs),
        note: `the rootfs is the overlay lower directory as it is: build_s is the debootstrap time the cache recorded when it built ${rootfs}, not re-measured below the paper profile; image_bytes measured now`,
      };
    }
    default:
      throw new Error(`no image build is known for platform ${ctx.platform}`);
  }
}

/** The platforms build() knows. */
const BUILT_ON = ['docker', 'kvm', 'lxcvm', 'lightvm', 'lxc'];

const ESTIMATE_S: Record<ProfileName, number> = { smoke: 15, quick: 60, paper: 480 };

const image: Experiment = {
  name: 'image',
  resource: 'disk',
  description: "each platform's own image-making step from the cached Debian rootfs, fresh into a temporary place: seconds and bytes",
  metrics: [
    { metric: 'build_s', unit: 's', better: 'lower' },
    { metric: 'image_bytes', unit: 'B', better: 'lower' },
    { metric: 'rootfs_s', unit: 's', better: 'lower' },
  ],
  guestPackages: [],
  params: () => ({ params: ['build'] }),
  skip: (platform) => imageSkip(platform),
  estimateS: (_param, profile) => ESTIMATE_S[profile],
  async run(ctx) {
    if (!BUILT_ON.includes(ctx.platform)) throw new Error(`no image build is known for platform ${ctx.platform}`);
    const rootfs = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
    const recorded = rootfsRecord(rootfs)?.builtSeconds;
    await mkdir(IMAGE_BUILD_DIR, { recursive: true });
    const place = await mkdtemp(join(IMAGE_BUILD_DIR, `${ctx.platform}-`));
    const undo = onCleanup(`image build place ${place}`, () => rm(place, { recursive: true, force: true }));
    try {
      const b = await build(ctx, place, rootfs);
      const metrics: ExperimentMetric[] = [
        { metric: 'build_s', value: b.buildS, note: b.note },
        { metric: 'image_bytes', value: b.bytes, note: b.note },
        recorded === undefined
          ? { metric: 'rootfs_s', value: null, status: 'error', message: `the cached rootfs ${rootfs} does not record its build time` }
          : { metric: 'rootfs_s', value: recorded, note: `debootstrap time the cache recorded when it built ${rootfs}; not re-measured` },
      ];
      return { metrics };
    } finally {
      await undo();
    }
  },
};

export default image;
