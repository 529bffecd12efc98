// The Debian root filesystem every container (and later every VM image) is made from. Built once
// with debootstrap and cached under a name that hashes its recipe, so a changed package list
// builds a new one and an unchanged one is reused across runs.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CACHE_DIR } from '../core/host.ts';
import { UnavailableError } from '../core/errors.ts';

export const SUITE = 'bookworm';
/** What every guest has, whatever the workloads: an init that reaps zombies, ps/kill, ip. */
export const BASE_PACKAGES = ['tini', 'procps', 'iproute2', 'ca-certificates'];

export interface RootfsRecipe {
  suite: string;
  packages: string[];
  mirror?: string;
}

export function recipeFor(packages: string[], mirror = hostMirror()): RootfsRecipe {
  return { suite: SUITE, packages: [...new Set([...BASE_PACKAGES, ...packages])].sort(), mirror };
}

export function recipeHash(r: RootfsRecipe): string {
  return createHash('sha256').update(JSON.stringify({ ...r, mirror: undefined })).digest('hex').slice(0, 12);
}

/** The Debian mirror the host's apt uses, so guests are built from the same place (and proxies). */
export function hostMirror(): string | undefined {
  if (process.env.VIRTBENCH_MIRROR) return process.env.VIRTBENCH_MIRROR;
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) files.push(...readdirSync(dir).map((f) => join(dir, f)));
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    // deb822: "URIs: <url>" in a stanza that names Suites: bookworm; one-line: "deb <url> bookworm main"
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = stanza.match(/^URIs:\s*(\S+)/m)?.[1];
      const suites = stanza.match(/^Suites:\s*(.+)$/m)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes(SUITE) && /\/debian\/?$/.test(uri)) return uri;
    }
    const m = text.match(new RegExp(`^deb\\s+(?:\\[[^\\]]*\\]\\s+)?(\\S+/debian/?)\\s+${SUITE}\\s`, 'm'));
    if (m?.[1]) return m[1];
  }
  return undefined;
}

export function rootfsPath(r: RootfsRecipe): string {
  return join(CACHE_DIR, 'rootfs', `${r.suite}-${recipeHash(r)}`);
}

const RECORD = '.virtbench-recipe.json';

/** What the cache recorded of a built root filesystem: its recipe and how long debootstrap took. */
export function rootfsRecord(dir: string): (RootfsRecipe & { builtSeconds?: number }) | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as RootfsRecipe & { builtSeconds?: number };
  } catch {
    return undefined;
  }
}

/** debootstrap the recipe into `dir` (which must not exist) and clean apt's cache; returns the seconds it took. Removes `dir` on failure. */
export async function debootstrapInto(r: RootfsRecipe, dir: string, signal?: AbortSignal): Promise<number> {
  const args = ['--variant=minbase', `--include=${r.packages.join(',')}`, r.suite, dir];
  if (r.mirror) args.push(r.mirror);
  const t0 = Date.now();
  const res = await execa('debootstrap', args, { reject: false, all: true, ...(signal ? { cancelSignal: signal } : {}) });
  if (res.exitCode !== 0) {
    await rm(dir, { recursive: true, force: true });
    const tail = (res.all ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new UnavailableError(`debootstrap of the guest root filesystem failed: ${tail}`);
  }
  await execa('chroot', [dir, 'apt-get', 'clean'], { reject: false });
  return (Date.now() - t0) / 1000;
}

/** Build the root filesystem if it is not cached; returns its directory. */
export async function ensureRootfs(r: RootfsRecipe, log: (line: string) => void): Promise<string> {
  const dir = rootfsPath(r);
  if (existsSync(join(dir, RECORD))) return dir;
  const tmp = `${dir}.building-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(CACHE_DIR, 'rootfs'), { recursive: true });
  log(`building guest root filesystem ${dir} with debootstrap (once; about a minute)`);
  const builtSeconds = await debootstrapInto(r, tmp);
  await writeFile(join(tmp, RECORD), JSON.stringify({ ...r, builtSeconds }, null, 2));
  await rename(tmp, dir);
  log(`guest root filesystem ready in ${builtSeconds.toFixed(0)} s`);
  return dir;
}
