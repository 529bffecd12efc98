// Copy-on-write write overhead (issue 11; the study's Table 5): a write-heavy job inside one guest,
// unpacking a tar of many small files (a part of the guest rootfs's usr/share and usr/lib: about
// 30 MB at smoke, 300 MB at quick, 600 MB at paper; built once per suite run on the host) and
// syncing that file system, timed inside the guest; then the files are deleted (not timed).
//   layer  into the guest's own root file system: lxc's overlay upper directory, docker's writable
//          layer, kvm's qcow2 overlay, lightvm's overlay (9p below, its qcow2 scratch disk above)
//   plain  into the guest's plain directory (GuestSpec.plainDir): a fresh host directory on the same
//          disk bind-mounted into a container (bare metal: a directory of its own); for a VM an
//          empty raw ext4 disk file on the same host disk, through the same virtio-blk path and
//          cache mode as its root disk, so that layer/plain is the cost of qcow2 (and lightvm's
//          overlay), not of 9p or another device model
// Both cells get the same guest (with a plain directory); the tar is copied into its workdir first
// and read from there in both, after a sync. Bare metal has no layer; lxcvm cannot give its
// containers a plain directory yet.
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { onCleanup } from '../core/cleanup.ts';
import { STATE_DIR } from '../core/host.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Experiment, ExperimentContext, ProfileName } from '../core/types.ts';
import { ensureRootfs, recipeFor } from '../drivers/rootfs.ts';

/** The tar of the run is made under here on the host, and removed at the run's end. */
export const COW_TAR_DIR = join(STATE_DIR, 'cow');
/** Bytes of files the job unpacks, per profile (the study unpacked and installed a large set of packages). */
export const COW_BYTES: Record<ProfileName, number> = { smoke: 30e6, quick: 300e6, paper: 600e6 };
/** Where in the rootfs the files come from: many small files (docs, locales, Perl, Python, libraries). */
const SOURCES = ['usr/share', 'usr/lib'];

/** Why a platform has no cell of a parameter, or undefined. */
export function cowSkip(platform: string, param: string): string | undefined {
  if (platform === 'lxcvm') return 'lxcvm cannot give its containers a plain directory yet (they get only read-only shares of the host cache)';
  if (platform === 'baremetal' && param === 'layer') return 'bare metal writes to the host file system: it has no copy-on-write layer, only plain';
  return undefined;
}

/**
 * Entries of `sized` in their order (the sources' order, then by name) until their sizes add up to
 * `target` bytes, leaving out any single entry larger than a quarter of the target (one big file
 * is not a job of many small files); pure, for tests.
 */
export function pickMembers(sized: { path: string; bytes: number }[], target: number): { paths: string[]; bytes: number } {
  const paths: string[] = [];
  let bytes = 0;
  for (const s of sized) {
    if (bytes >= target) break;
    if (s.bytes <= 0 || s.bytes > target / 4) continue;
    paths.push(s.path);
    bytes += s.bytes;
  }
  return { paths, bytes };
}

export interface CowTar {
  file: string;
  /** Apparent bytes of the files in it (what the job writes). */
  bytes: number;
  files: number;
  members: string[];
}

const tars = new Map<string, Promise<CowTar>>();

/** The run's tar of about `target` bytes of the rootfs's small files; made once per suite run and profile. */
export function cowTar(rootfs: string, target: number, log: (line: string) => void): Promise<CowTar> {
  const key = `${rootfs}@${target}`;
  let p = tars.get(key);
  if (!p) {
    p = makeTar(rootfs, target, log);
    tars.set(key, p);
    p.catch(() => tars.delete(key));
  }
  return p;
}

async function makeTar(rootfs: string, target: number, log: (line: string) => void): Promise<CowTar> {
  // apparent sizes of each source's entries, one du for all
  const entries = SOURCES.flatMap((s) => readdirSync(join(rootfs, s)).sort().map((e) => `${s}/${e}`));
  const du = await execa('du', ['-s', '-b', ...entries], { cwd: rootfs, reject: false });
  const lines = du.stdout;
  const sized = lines
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ bytes: Number(l.split('\t')[0]), path: l.split('\t').slice(1).join('\t') }));
  const { paths, bytes } = pickMembers(sized, target);
  await mkdir(COW_TAR_DIR, { recursive: true });
  const dir = await mkdtemp(join(COW_TAR_DIR, 'tar-'));
  onCleanup(`cow tar ${dir}`, () => {
    tars.clear();
    return rm(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'files.tar');
  await execa('tar', ['--numeric-owner', '-C', rootfs, '-cf', file, ...paths]);
  const files = Number((await execa('bash', ['-c', 'tar -tf "$1" | grep -vc "/$"', 'count', file])).stdout.trim());
  log(`cow: ${file}: ${(bytes / 1e6).toFixed(0)} MB in ${files} files from ${paths.length} entries of ${SOURCES.join(', ')} (${((await stat(file)).size / 1e6).toFixed(0)} MB tar)`);
  return { file, bytes, files, members: paths };
}

/** The timed job in the guest: unpack into `target`, sync its file system; prints the seconds it took (the guest's clock). */
export function writeJob(tarPath: string, target: string): string {
  return [
    shellLine`mkdir -p ${target}`,
    'sync',
    's=$(date +%s.%N)',
    shellLine`tar -xf ${tarPath} -C ${target}`,
    shellLine`sync -f ${target}`,
    'e=$(date +%s.%N)',
    `echo "$s $e"`,
  ].join(' && ');
}

/** Seconds between the two clock readings writeJob prints. */
export function parseWriteJob(stdout: string): number {
  const [s, e] = stdout.trim().split('\n').at(-1)!.split(' ').map(Number);
  if (!Number.isFinite(s) || !Number.isFinite(e) || e! < s!) throw new Error(`unexpected output of the write job: ${stdout.trim().slice(0, 200)}`);
  return e! - s!;
}

async function run(ctx: ExperimentContext) {
  const rootfs = await ensureRootfs(recipeFor(ctx.guestPackages), ctx.log);
  const tar = await cowTar(rootfs, COW_BYTES[ctx.profile.name], ctx.log);
  const guest = await ctx.provision(0, { plainDir: true });
  if (!guest.plainDir) throw new Error(`${ctx.platform} gave no plain directory`);
  const inGuest = `${guest.workdir}/cow.tar`;
  await guest.pushFile(tar.file, inGuest);
  const target = ctx.param === 'plain' ? `${guest.plainDir}/unpacked` : `${guest.workdir}/unpacked`;
  const limit = { timeoutMs: ctx.timeoutS * 1000, signal: ctx.signal };
  const r = await guest.sh(writeJob(inGuest, target), limit);
  const writeS = parseWriteJob(r.stdout);
  await guest.sh(shellLine`rm -rf ${target} && sync`, limit);
  const note = `${(tar.bytes / 1e6).toFixed(0)} MB in ${tar.files} files unpacked into ${ctx.param === 'plain' ? 'the plain directory' : 'the root file system'} ${target}, then synced (timed in the guest)`;
  return {
    metrics: [
      { metric: 'write_s', value: writeS, note },
      { metric: 'write_mb_s', value: tar.bytes / 1e6 / writeS, note },
    ],
  };
}

const cow: Experiment = {
  name: 'cow',
  resource: 'disk',
  description: 'copy-on-write write overhead: unpacking many small files into the guest’s own root file system (layer) against a plain directory of the same disk',
  metrics: [
    { metric: 'write_s', unit: 's', better: 'lower' },
    { metric: 'write_mb_s', unit: 'MB/s', better: 'higher' },
  ],
  guestPackages: [],
  reference: 'plain',
  params: () => ({ params: ['plain', 'layer'] }),
  skip: cowSkip,
  estimateS: (_param, profile) => ({ smoke: 5, quick: 20, paper: 60 })[profile],
  run,
};

export default cow;
