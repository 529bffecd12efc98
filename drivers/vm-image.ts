// What a VM boots: Debian's generic kernel (fetched with apt-get download, never installed), an
// initramfs of our own (static busybox, the virtio/9p/ext4/overlay modules in dependency order,
// the guest agent), and for disk-booted guests an ext4 disk image made from a cached Debian root
// filesystem. Each is built once and cached under a name that hashes what it is made of; guests
// use copy-on-write qcow2 overlays of the images, so a new guest costs a few hundred KiB.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { UnavailableError } from '../core/errors.ts';
import { CACHE_DIR } from '../core/host.ts';

export const VM_CACHE = join(CACHE_DIR, 'vm');
const ASSETS = join(dirname(fileURLToPath(import.meta.url)), 'vm-guest');
/** Bump when the layout of a cached artefact changes, so that old ones are not reused. */
const FORMAT = 1;

/**
 * Modules every guest loads before it mounts its root: virtio transports (PCI for -M pc, MMIO for
 * -M microvm), disk, network, console (the agent's port), balloon, 9p (shares, lightvm root), ext4
 * (disks), overlay (lightvm root, nested containers), veth and bridge (nested containers), fuse and
 * virtiofs (virtio-fs shares where a virtiofsd exists). crc32c is ext4's soft dependency.
 */
export const GUEST_MODULES = [
  'virtio_pci',
  'virtio_mmio',
  'virtio_blk',
  'virtio_net',
  'virtio_console',
  'virtio_balloon',
  '9pnet_virtio',
  '9p',
  'crc32c_generic',
  'ext4',
  'overlay',
  'veth',
  'bridge',
  'fuse',
  'virtiofs',
];

const sha = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
};

// ---------------------------------------------------------------------------------------------
// Kernel modules: order from modules.dep (pure, unit-tested)

export interface ModuleEntry {
  path: string;
  deps: string[];
}

/** `foo-bar.ko.xz` -> `foo_bar` (module names treat - and _ alike). */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_');
}

export function parseModulesDep(text: string): Map<string, ModuleEntry> {
  const out = new Map<string, ModuleEntry>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const path = line.slice(0, i).trim();
    const deps = line.slice(i + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    out.set(moduleName(path), { path, deps });
  }
  return out;
}

export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').filter(Boolean).map(moduleName));
}

/** Load order for `wanted`: every module after its dependencies, built-ins skipped; unknown names listed in `missing`. */
export function moduleLoadOrder(deps: Map<string, ModuleEntry>, builtin: Set<string>, wanted: string[]): { order: { name: string; path: string }[]; missing: string[] } {
  const order: { name: string; path: string }[] = [];
  const missing: string[] = [];
  const done = new Set<string>();
  const visit = (raw: string, chain: string[]) => {
    const name = raw.replace(/-/g, '_');
    if (done.has(name) || builtin.has(name)) return;
    if (chain.includes(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const entry = deps.get(name);
    if (!entry) {
      if (!missing.includes(name)) missing.push(name);
      return;
    }
    for (const d of entry.deps) visit(d, [...chain, name]);
    done.add(name);
    order.push({ name, path: entry.path });
  };
  for (const w of wanted) visit(w, []);
  return { order, missing };
}

// ---------------------------------------------------------------------------------------------
// cpio (newc) writer: the initramfs is built without root and byte-for-byte reproducibly

export type CpioEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'file'; name: string; data: Buffer; mode?: number }
  | { kind: 'char'; name: string; major: number; minor: number; mode?: number };

export function cpioNewc(entries: CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  let ino = 1;
  const push = (name: string, mode: number, data: Buffer, rmaj = 0, rmin = 0, nlink = 1) => {
    const nameBuf = Buffer.from(name + '\0');
    const header = '070701' + [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rmaj, rmin, nameBuf.length, 0].map(hex).join('');
    chunks.push(Buffer.from(header), nameBuf, pad(110 + nameBuf.length), data, pad(data.length));
  };
  for (const e of entries) {
    const name = e.name.replace(/^\/+/, '');
    if (e.kind === 'dir') push(name, 0o040000 | (e.mode ?? 0o755), Buffer.alloc(0), 0, 0, 2);
    else if (e.kind === 'file') push(name, 0o100000 | (e.mode ?? 0o644), e.data);
    else push(name, 0o020000 | (e.mode ?? 0o600), Buffer.alloc(0), e.major, e.minor);
  }
  ino = 0;
  push('TRAILER!!!', 0, Buffer.alloc(0), 0, 0, 1);
  return Buffer.concat(chunks);
}

/** Whether an ELF file asks for a dynamic loader (PT_INTERP): a static busybox does not. */
export function elfIsDynamic(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) throw new Error('not a 64-bit ELF file');
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (buf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

/** Offset of the compressed payload inside a bzImage, and the tool that unpacks it. */
export function findKernelPayload(buf: Buffer): { offset: number; tool: string[] } | undefined {
  const magics: [Buffer, string[]][] = [
    [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), ['xz', '-dc', '--single-stream']],
    [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), ['zstd', '-dc']],
    [Buffer.from([0x1f, 0x8b, 0x08]), ['gzip', '-dc']],
  ];
  let best: { offset: number; tool: string[] } | undefined;
  for (const [magic, tool] of magics) {
    const offset = buf.indexOf(magic);
    if (offset >= 0 && (!best || offset < best.offset)) best = { offset, tool };
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// The guest kernel

export interface GuestKernel {
  /** Debian package it came from, and its version. */
  pkg: string;
  pkgVersion: string;
  /** uname -r of the guest. */
  release: string;
  /** Uncompressed ELF kernel (PVH entry): boots in about a third of the bzImage's time under TCG. Falls back to the bzImage. */
  image: string;
  modulesDir: string;
  /** CONFIG_HZ, for lapic_timer_period under TCG. */
  hz: number;
}

async function aptKernelPackage(): Promise<{ pkg: string; version?: string } | undefined> {
  if (process.env.VIRTBENCH_VM_KERNEL_PKG) return { pkg: process.env.VIRTBENCH_VM_KERNEL_PKG };
  const dep = await execa('apt-cache', ['depends', 'linux-image-amd64'], { reject: false });
  const pkg = dep.stdout.match(/Depends:\s*(linux-image-\S+)/)?.[1];
  if (!pkg) return undefined;
  const show = await execa('apt-cache', ['show', '--no-all-versions', pkg], { reject: false });
  return { pkg, version: show.stdout.match(/^Version:\s*(\S+)/m)?.[1] };
}

function readKernelDir(dir: string): GuestKernel | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as GuestKernel;
  } catch {
    return undefined;
  }
}

let kernelPromise: Promise<GuestKernel> | undefined;

/** The cached guest kernel, fetched on first use (about 70 MB from the host's Debian mirror). */
export function ensureKernel(log: (line: string) => void): Promise<GuestKernel> {
  kernelPromise ??= buildKernel(log).catch((err) => {
    kernelPromise = undefined;
    throw err;
  });
  return kernelPromise;
}

async function buildKernel(log: (line: string) => void): Promise<GuestKernel> {
  const want = await aptKernelPackage();
  const cached = existsSync(VM_CACHE)
    ? readdirSync(VM_CACHE)
        .filter((d) => d.startsWith('kernel-'))
        .map((d) => readKernelDir(join(VM_CACHE, d)))
        .filter((k): k is GuestKernel => k !== undefined)
    : [];
  const hit = cached.find((k) => k.pkg === want?.pkg && (!want.version || k.pkgVersion === want.version)) ?? (want ? undefined : cached.at(-1));
  if (hit) return hit;
  if (!want) throw new UnavailableError('no guest kernel: apt-cache knows no linux-image-amd64 (run apt-get update) and none is cached');
  try {
    return await fetchKernel(want, log);
  } catch (err) {
    // offline with an older kernel cached: use it rather than fail
    const older = cached.find((k) => k.pkg.startsWith('linux-image-'));
    if (!older) throw err;
    log(`${err instanceof Error ? err.message : String(err)}; using the cached guest kernel ${older.pkg} ${older.pkgVersion}`);
    return older;
  }
}

async function fetchKernel(want: { pkg: string; version?: string }, log: (line: string) => void): Promise<GuestKernel> {
  await mkdir(VM_CACHE, { recursive: true });
  const tmp = await mkdtemp(join(VM_CACHE, '.kernel-'));
  try {
    log(`fetching guest kernel ${want.pkg} (once)`);
    const dl = await execa('apt-get', ['download', want.pkg], { cwd: tmp, reject: false, all: true });
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (dl.exitCode !== 0 || !deb) throw new UnavailableError(`could not download the guest kernel ${want.pkg}: ${(dl.all ?? '').trim().split('\n').at(-1)}`);
    const pkgVersion = (await execa('dpkg-deb', ['-f', join(tmp, deb), 'Version'])).stdout.trim();
    const root = join(tmp, 'root');
    await execa('dpkg-deb', ['-x', join(tmp, deb), root]);
    const release = readdirSync(join(root, 'lib/modules'))[0];
    if (!release) throw new UnavailableError(`${want.pkg} contains no modules`);
    // the .deb ships no modules.dep: generate it, so that load order comes from the kernel itself
    await execa('depmod', ['-b', root, release]);
    const config = readFileSync(join(root, 'boot', `config-${release}`), 'utf8');
    const hz = Number(config.match(/^CONFIG_HZ=(\d+)/m)?.[1] ?? 250);
    const dir = join(VM_CACHE, `kernel-${want.pkg}-${pkgVersion}`);
    const staged = join(tmp, 'out');
    await mkdir(staged);
    await rename(join(root, 'lib/modules', release), join(staged, 'modules'));
    await rename(join(root, 'boot', `config-${release}`), join(staged, 'config'));
    const bz = join(root, 'boot', `vmlinuz-${release}`);
    let image = join(staged, 'vmlinuz');
    await rename(bz, image);
    const vmlinux = await extractVmlinux(image, join(staged, 'vmlinux'));
    if (vmlinux) image = vmlinux;
    else log('could not unpack an ELF kernel from the bzImage: booting the bzImage (slower under TCG)');
    const k: GuestKernel = { pkg: want.pkg, pkgVersion, release, image: join(dir, basename(image)), modulesDir: join(dir, 'modules'), hz };
    await writeFile(join(staged, 'kernel.json'), JSON.stringify(k, null, 2));
    await rm(dir, { recursive: true, force: true });
    await rename(staged, dir);
    log(`guest kernel ${release} ready`);
    return k;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Unpack the ELF kernel inside a bzImage; undefined when it cannot be found. */
async function extractVmlinux(bzImage: string, out: string): Promise<string | undefined> {
  const buf = await readFile(bzImage);
  const found = findKernelPayload(buf);
  if (!found) return undefined;
  const [tool, ...args] = found.tool;
  const r = await execa(tool!, args, { input: buf.subarray(found.offset), encoding: 'buffer', reject: false, maxBuffer: 512 * 1024 * 1024 });
  const elf = r.stdout as unknown as Uint8Array;
  if (elf.length < 4 || Buffer.from(elf.subarray(0, 4)).readUInt32BE(0) !== 0x7f454c46) return undefined;
  await writeFile(out, elf);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The initramfs

export async function initramfsEntries(k: GuestKernel, busyboxPath = '/bin/busybox'): Promise<CpioEntry[]> {
  const deps = parseModulesDep(readFileSync(join(k.modulesDir, 'modules.dep'), 'utf8'));
  const builtinFile = join(k.modulesDir, 'modules.builtin');
  const builtin = existsSync(builtinFile) ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8')) : new Set<string>();
  const { order, missing } = moduleLoadOrder(deps, builtin, GUEST_MODULES);
  const needed = missing.filter((m) => !['fuse', 'virtiofs'].includes(m));
  if (needed.length) throw new UnavailableError(`guest kernel ${k.release} lacks modules ${needed.join(', ')}`);
  let busybox: Buffer;
  try {
    busybox = readFileSync(busyboxPath);
  } catch {
    throw new UnavailableError(`${busyboxPath} is missing: install busybox-static`);
  }
  if (elfIsDynamic(busybox)) throw new UnavailableError(`${busyboxPath} is dynamically linked: install busybox-static`);
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'etc', 'etc/vb', 'lib', 'lib/modules', 'proc', 'sys', 'newroot', 'lower', 'scratch'].map((name) => ({ kind: 'dir' as const, name })),
    { kind: 'char', name: 'dev/console', major: 5, minor: 1 },
    { kind: 'char', name: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { kind: 'file', name: 'init', data: readFileSync(join(ASSETS, 'init')), mode: 0o755 },
    { kind: 'file', name: 'bin/busybox', data: busybox, mode: 0o755 },
    { kind: 'file', name: 'etc/vb/agent.pl', data: readFileSync(join(ASSETS, 'agent.pl')), mode: 0o755 },
    { kind: 'file', name: 'etc/vb/stage2.sh', data: readFileSync(join(ASSETS, 'stage2.sh')), mode: 0o755 },
    { kind: 'file', name: 'etc/vb/modules', data: Buffer.from(order.map((m) => m.name).join('\n') + '\n') },
  ];
  for (const m of order) {
    let data = readFileSync(join(k.modulesDir, m.path));
    if (m.path.endsWith('.xz')) data = Buffer.from((await execa('xz', ['-dc'], { input: data, encoding: 'buffer' })).stdout as unknown as Uint8Array);
    else if (m.path.endsWith('.zst')) data = Buffer.from((await execa('zstd', ['-dc'], { input: data, encoding: 'buffer' })).stdout as unknown as Uint8Array);
    else if (m.path.endsWith('.gz')) data = Buffer.from((await execa('gzip', ['-dc'], { input: data, encoding: 'buffer' })).stdout as unknown as Uint8Array);
    entries.push({ kind: 'file', name: `lib/modules/${m.name}.ko`, data });
  }
  return entries;
}

/** Uncompressed on purpose: under TCG the kernel unpacks a compressed initramfs slowly; loading 10 MB is instant. */
export async function ensureInitramfs(k: GuestKernel, log: (line: string) => void): Promise<string> {
  const entries = await initramfsEntries(k);
  const cpio = cpioNewc(entries);
  const file = join(VM_CACHE, `initramfs-${k.release}-${sha(String(FORMAT), cpio)}.cpio`);
  if (existsSync(file)) return file;
  await mkdir(VM_CACHE, { recursive: true });
  await writeFile(`${file}.tmp-${process.pid}`, cpio);
  await rename(`${file}.tmp-${process.pid}`, file);
  log(`guest initramfs ${basename(file)} built (${(cpio.length / 1e6).toFixed(1)} MB)`);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Disk images

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Virtual size of disks (qcow2 stores only what is written): room for the paper profile's 5 GB file and a defconfig build. */
export function diskSizeGiB(): number {
  const v = Number(process.env.VIRTBENCH_VM_DISK_GB ?? 24);
  return Number.isFinite(v) && v >= 2 ? Math.floor(v) : 24;
}

/** A sparse raw ext4 disk of `sizeGiB`, filled from `fromDir` when given. */
async function mkfsRaw(raw: string, sizeGiB: number, label: string, fromDir?: string): Promise<void> {
  // itables and journal zeroed now (sparsely), so the guest kernel starts no lazy-init writer
  const args = ['-q', '-F', '-t', 'ext4', '-L', label, '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-m', '0'];
  if (fromDir) args.push('-d', fromDir);
  const r = await execa('mke2fs', [...args, raw, `${sizeGiB * 1024}M`], { reject: false, all: true });
  if (r.exitCode !== 0) throw new UnavailableError(`could not build the disk image ${basename(raw)}: ${(r.all ?? '').trim().split('\n').at(-1)}`);
}

/** A qcow2 ext4 disk image at `out` (of `fromDir`'s tree, or empty): what the VM platforms' cached images are made by. */
export async function mkfsImage(out: string, sizeGiB: number, label: string, fromDir?: string): Promise<void> {
  const raw = `${out}.raw-${process.pid}`;
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await mkfsRaw(raw, sizeGiB, label, fromDir);
    const c = await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, tmp], { reject: false, all: true });
    if (c.exitCode !== 0) throw new UnavailableError(`qemu-img convert failed for ${basename(out)}: ${(c.all ?? '').trim().split('\n').at(-1)}`);
    await rename(tmp, out);
  } finally {
    await rm(raw, { force: true });
    await rm(tmp, { force: true });
  }
}

/** Where the disk image of a root filesystem directory is cached. */
export function diskImagePath(rootfsDir: string): string {
  return join(VM_CACHE, `disk-${basename(rootfsDir)}-${diskSizeGiB()}g-v${FORMAT}.qcow2`);
}

/** A bootable ext4 disk image (qcow2) of a root filesystem directory; rebuilt only when that directory's recipe changes. */
export async function ensureDiskImage(rootfsDir: string, log: (line: string) => void): Promise<string> {
  const size = diskSizeGiB();
  const file = diskImagePath(rootfsDir);
  if (existsSync(file)) return file;
  await mkdir(VM_CACHE, { recursive: true });
  const t0 = Date.now();
  log(`building guest disk image ${basename(file)} from ${rootfsDir} (once)`);
  await mkfsImage(file, size, 'vbroot', rootfsDir);
  log(`guest disk image ready in ${((Date.now() - t0) / 1000).toFixed(0)} s (${(statSync(file).size / 1e6).toFixed(0)} MB)`);
  return file;
}

/** An empty ext4 disk (qcow2): the writable layer of a lightvm, whose root is a read-only share. */
export async function ensureScratchImage(log: (line: string) => void): Promise<string> {
  const size = diskSizeGiB();
  const file = join(VM_CACHE, `scratch-${size}g-v${FORMAT}.qcow2`);
  if (existsSync(file)) return file;
  await mkdir(VM_CACHE, { recursive: true });
  await mkfsImage(file, size, 'vbscratch');
  log(`scratch disk image ${basename(file)} ready`);
  return file;
}

/** The ext4 label of a share given as a disk (Share.asDisk), by which the guest mounts it. */
export const shareLabel = (i: number) => `vbshare${i}`;

/**
 * A raw ext4 image of a host directory for a read-only share given as a disk (Share.asDisk),
 * cached by the directory's path and size; `label` is what the guest mounts it by.
 */
export async function ensureShareImage(dir: string, label: string, log: (line: string) => void): Promise<string> {
  const r = await execa('du', ['-s', '-B1', '--apparent-size', dir], { reject: false });
  if (r.exitCode !== 0) throw new UnavailableError(`cannot share ${dir} as a disk: du failed: ${r.stderr.trim().split('\n').at(-1)}`);
  const bytes = Number(r.stdout.split('\t')[0]);
  const key = createHash('sha256').update(`${dir}\0${bytes}\0${label}`).digest('hex').slice(0, 12);
  const file = join(VM_CACHE, `share-${basename(dir)}-${key}.ext4`);
  if (existsSync(file)) return file;
  await mkdir(VM_CACHE, { recursive: true });
  const t0 = Date.now();
  // room for ext4's metadata and one inode per small file of a source tree
  const sizeMiB = Math.ceil((bytes * 1.3) / MiB) + 256;
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const m = await execa('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', label, '-m', '0', '-i', '8192', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-d', dir, tmp, `${sizeMiB}M`], { reject: false, all: true });
    if (m.exitCode !== 0) throw new UnavailableError(`could not build a disk image of ${dir}: ${(m.all ?? '').trim().split('\n').at(-1)}`);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  log(`disk image of ${dir} for a migratable share built in ${((Date.now() - t0) / 1000).toFixed(0)} s (${sizeMiB} MiB, once per host)`);
  return file;
}

/** Label of a guest's plain disk (GuestSpec.plainDir), which the guest mounts by it. */
export const PLAIN_LABEL = 'vbplain';

/** A guest's plain disk: an empty sparse raw ext4 file (no qcow2, no backing file), the VM's counterpart of a plain host directory. */
export async function createPlainDisk(file: string): Promise<void> {
  await mkfsRaw(file, diskSizeGiB(), PLAIN_LABEL);
}

/** A copy-on-write overlay of a cached image for one guest. */
export async function createOverlay(base: string, file: string): Promise<void> {
  const r = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, file], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`qemu-img create ${basename(file)} failed: ${(r.all ?? '').trim().split('\n').at(-1)}`);
}

/** Bytes a file really occupies on the host disk (sparse-aware). */
export function diskUsageBytes(file: string): number {
  try {
    return statSync(file).blocks * 512;
  } catch {
    return 0;
  }
}

export { GiB };
