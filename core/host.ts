// Facts about the host, where the harness keeps its state, and installing what a run needs.
import { execa } from 'execa';
import { existsSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import si from 'systeminformation';
import { UnavailableError } from './errors.ts';
import { boundedSwapBytes, defaultMemoryBudget, type TenancyHost } from './tenancy.ts';
import type { DiskRoom, GuestSpec } from './types.ts';

/** Built once, reused across runs (guest root filesystems, unpacked sources). */
export const CACHE_DIR = process.env.VIRTBENCH_CACHE ?? '/var/cache/virtbench';
/** Per-run state of guests; everything under it belongs to a live run and is swept after a crash. */
export const STATE_DIR = process.env.VIRTBENCH_STATE ?? '/var/lib/virtbench';
export const GUESTS_DIR = `${STATE_DIR}/baremetal`;

/** The room left on the file system that holds `dir`, or will once it exists (its nearest existing ancestor is asked). */
export function diskRoom(dir: string): DiskRoom {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const s = statfsSync(at);
  return { dir, freeBytes: s.bavail * s.bsize };
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The hard ceiling of a soft-limited guest: twice its size, never more than 3/4 of host memory.
 * Soft limits let a tenant use idle memory (the study's point) without letting it take the host.
 */
export function memoryCeiling(spec: Pick<GuestSpec, 'memoryBytes'>): number {
  return Math.min(spec.memoryBytes * 2, Math.floor(totalmem() * 0.75));
}

/** The host's swap (SwapTotal of /proc/meminfo), bytes; 0 where it cannot be read. */
export function hostSwapBytes(): number {
  try {
    const kb = readFileSync('/proc/meminfo', 'utf8').match(/^SwapTotal:\s+(\d+) kB/m)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * This host as multi-tenant sizing sees it: its CPUs and memory, the swap the tenants may use (the
 * host's, or the bounded one the harness provides where there is none or less), the budget M.
 */
export function hostTenancy(o: { vcpus: number; memoryBytes: number; memoryBudget?: number }): TenancyHost {
  const memoryBytes = totalmem();
  const own = hostSwapBytes();
  const bounded = boundedSwapBytes(memoryBytes);
  return {
    cpus: cpus().length,
    memoryBytes,
    swapBytes: Math.max(own, bounded),
    swapSource: own >= bounded ? 'host' : 'bounded',
    memoryBudget: o.memoryBudget ?? defaultMemoryBudget(cpus().length, memoryBytes, o.vcpus, o.memoryBytes),
    vcpus: o.vcpus,
    guestMemoryBytes: o.memoryBytes,
  };
}

export function isDebianLike(): boolean {
  return existsSync('/usr/bin/apt-get') && existsSync('/usr/bin/dpkg-query');
}

export async function missingPackages(pkgs: string[]): Promise<string[]> {
  if (pkgs.length === 0 || !existsSync('/usr/bin/dpkg-query')) return [];
  const r = await execa('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...pkgs], { reject: false });
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return pkgs.filter((p) => !installed.has(p));
}

let aptUpdated = false;
/** Install missing Debian packages, saying what; where that is impossible, one line says what to do. */
export async function ensurePackages(pkgs: string[], log: (line: string) => void): Promise<void> {
  const unique = [...new Set(pkgs)];
  const missing = await missingPackages(unique);
  if (missing.length === 0) return;
  if (!isDebianLike()) throw new UnavailableError(`missing host packages (${missing.join(', ')}): install them and run again`);
  if (!isRoot()) throw new UnavailableError(`missing host packages (${missing.join(', ')}): run as root so the harness can install them, or: apt-get install ${missing.join(' ')}`);
  log(`installing host packages: ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    await execa('apt-get', ['update', '-qq'], { env, reject: false });
    aptUpdated = true;
  }
  const r = await withoutServiceStarts(() => execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, reject: false, all: true }));
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').trim().split('\n').slice(-2).join(' | ');
    throw new UnavailableError(`could not install ${missing.join(', ')}: ${tail}`);
  }
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
/**
 * Installing a server package (redis-server, mariadb-server, apache2) starts its system daemon by
 * default. The harness runs its own instances on private ports and datadirs, and a system daemon
 * would idle beside every measurement after the install: keep invoke-rc.d from starting them for
 * the install's duration (Debian's policy-rc.d, exit 101 = "not allowed"), unless the host already
 * has a policy of its own, which is then left as it is.
 */
async function withoutServiceStarts<T>(install: () => Promise<T>): Promise<T> {
  if (existsSync(POLICY_RC_D)) return install();
  writeFileSync(POLICY_RC_D, '#!/bin/sh\n# virtbench: no service starts while it installs packages\nexit 101\n', { mode: 0o755 });
  try {
    return await install();
  } finally {
    rmSync(POLICY_RC_D, { force: true });
  }
}

export interface HostFacts {
  hostname: string;
  cpu: { manufacturer: string; brand: string; cores: number; physicalCores: number; speedGHz: number; virtualization: boolean };
  memoryBytes: number;
  os: { distro: string; release: string; kernel: string; arch: string };
  virtualization: { hypervisor: string | undefined; kvmDevice: boolean };
  cgroupVersion: number;
}

export async function hostFacts(cgroupVersion: number): Promise<HostFacts> {
  const [cpu, mem, os, system] = await Promise.all([si.cpu(), si.mem(), si.osInfo(), si.system()]);
  return {
    hostname: os.hostname,
    cpu: {
      manufacturer: cpu.manufacturer,
      brand: cpu.brand,
      cores: cpu.cores,
      physicalCores: cpu.physicalCores,
      speedGHz: cpu.speed,
      virtualization: cpu.virtualization,
    },
    memoryBytes: mem.total,
    os: { distro: os.distro, release: os.release, kernel: os.kernel, arch: os.arch },
    virtualization: { hypervisor: system.virtual ? system.virtualHost || 'unknown' : undefined, kvmDevice: existsSync('/dev/kvm') },
    cgroupVersion,
  };
}

/** Versions of the tools a run used, one command each; absent tools are reported as such. */
const VERSION_COMMANDS: Record<string, [string, string[]]> = {
  lxc: ['lxc-start', ['--version']],
  fio: ['fio', ['--version']],
  bonnie: ['dpkg-query', ['-W', '-f', '${Version}', 'bonnie++']],
  'linux-source': ['dpkg-query', ['-W', '-f', '${Version}', 'linux-source']],
  gcc: ['gcc', ['-dumpfullversion']],
  make: ['make', ['--version']],
  debootstrap: ['dpkg-query', ['-W', '-f', '${Version}', 'debootstrap']],
  filebench: ['filebench', ['-h']],
  qemu: ['qemu-system-x86_64', ['--version']],
  docker: ['/usr/sbin/dockerd', ['--version']],
  node: [process.execPath, ['--version']],
};

export async function toolVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(
    Object.entries(VERSION_COMMANDS).map(async ([name, [file, args]]) => {
      const r = await execa(file, args, { reject: false, timeout: 5000, all: true });
      const first = (r.all ?? '').trim().split('\n')[0] ?? '';
      out[name] = r.exitCode === 0 && first ? first : 'not installed';
    }),
  );
  return Object.fromEntries(Object.entries(out).sort());
}

export async function gitCommit(cwd: string): Promise<{ commit: string; dirty: boolean }> {
  const head = await execa('git', ['rev-parse', 'HEAD'], { cwd, reject: false });
  const status = await execa('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, reject: false });
  return { commit: head.exitCode === 0 ? head.stdout.trim() : 'unknown', dirty: status.stdout.trim().length > 0 };
}

/** Whether a process of this pid exists (signal 0: nothing is sent); sweeps use it to tell a crashed run's leftovers from a live run's. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
