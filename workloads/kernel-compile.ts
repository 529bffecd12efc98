// The study's CPU workload: compiling Linux. Debian's linux-source is unpacked once on the host
// and shared read-only into every guest at the same path; each profile's configured tree (the
// .config plus `make prepare`, built once on the host) is a small template that every run copies
// into its guest, so the timed part is `make -j<vCPUs> <targets>` out of tree and nothing else.
//   paper: defconfig, the whole kernel (the study's setting)
//   quick: tinyconfig, the whole kernel (about 90 s on 2 cores here)
//   smoke: tinyconfig, kernel/printk/ only (2-3 s on one core here, ~110 s under TCG, where every
//          process make and gcc start is emulated: the smoke matrix runs on VM platforms in CI)
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UnavailableError } from '../core/errors.ts';
import { guestShell } from '../core/guest-shell.ts';
import { shellLine } from '../core/shell-quote.ts';
import type { Guest, PrepareContext, RunResult, ProfileName, RunContext, Share, Workload } from '../core/types.ts';

export interface BuildPlan {
  config: string;
  /** make targets; empty = the default target (the whole kernel). */
  targets: string[];
}

export const BUILD_PLANS: Record<ProfileName, BuildPlan> = {
  smoke: { config: 'tinyconfig', targets: ['kernel/printk/'] },
  quick: { config: 'tinyconfig', targets: [] },
  paper: { config: 'defconfig', targets: [] },
};

/** What a build needs beyond minbase; xz-utils compresses tinyconfig's kernel image, cpio packs in-kernel headers. */
export const BUILD_PACKAGES = ['make', 'gcc', 'libc6-dev', 'bc', 'bison', 'flex', 'libelf-dev', 'libssl-dev', 'xz-utils', 'cpio'];

/** bash's `time` with TIMEFORMAT='vb-time %R %U %S': wall, user and system seconds of the build. */
export function parseBuildTime(output: string): { wallS: number; userS: number; sysS: number } {
  const m = output.match(/^vb-time (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/m);
  if (!m) throw new Error('no timing line in the build output');
  return { wallS: Number(m[1]), userS: Number(m[2]), sysS: Number(m[3]) };
}

/** Bytes of make's log kept as the run's make.log artifact. */
export const MAKE_LOG_TAIL = 32 * 1024;

/** The guest-side script of one measured build: fresh copy of the template, then the timed make. */
export function buildScript(o: { srcDir: string; templateDir: string; buildDir: string; jobs: number; targets: string[] }): string {
  return [
    shellLine`rm -rf ${o.buildDir} && cp -a ${o.templateDir} ${o.buildDir} || exit 1`,
    `TIMEFORMAT='vb-time %R %U %S'`,
    shellLine`time make -s -C ${o.srcDir} O=${o.buildDir} -j${o.jobs} ${o.targets} > ${o.buildDir + '.log'} 2>&1`,
    // make's last lines only say which target failed; the cause is the first error line
    shellLine`rc=$?; if [ $rc -ne 0 ]; then { grep -m2 -E 'error|not found|No such file' ${o.buildDir + '.log'}; tail -2 ${o.buildDir + '.log'}; } >&2; exit $rc; fi`,
    // the log's tail for the run's artifacts (make -s prints warnings only: usually short)
    shellLine`tail -c ${MAKE_LOG_TAIL} ${o.buildDir + '.log'}`,
  ].join('\n');
}

let tree: { srcDir: string; cacheRoot: string } | undefined;

/** Unpack Debian's linux-source once; returns the source directory. */
async function ensureSource(cacheDir: string, log: (l: string) => void): Promise<{ srcDir: string; cacheRoot: string }> {
  const tarball = existsSync('/usr/src') ? readdirSync('/usr/src').filter((f) => /^linux-source-[\d.]+\.tar\.xz$/.test(f)).sort().pop() : undefined;
  if (!tarball) throw new UnavailableError('no /usr/src/linux-source-*.tar.xz: install the linux-source package');
  const version = tarball.replace(/^linux-source-/, '').replace(/\.tar\.xz$/, '');
  const pkg = await execa('dpkg-query', ['-W', '-f', '${Version}', `linux-source-${version}`], { reject: false });
  const cacheRoot = join(cacheDir, 'linux', `${version}-${pkg.stdout.trim() || 'unknown'}`);
  const srcDir = join(cacheRoot, `linux-source-${version}`);
  if (existsSync(join(cacheRoot, '.unpacked'))) return { srcDir, cacheRoot };
  log(`unpacking ${tarball} into ${cacheRoot} (once; about 15 s)`);
  const tmp = `${cacheRoot}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await execa('tar', ['-xf', join('/usr/src', tarball), '-C', tmp]);
  await writeFile(join(tmp, '.unpacked'), tarball + '\n');
  await rm(cacheRoot, { recursive: true, force: true });
  await rename(tmp, cacheRoot);
  return { srcDir, cacheRoot };
}

/** The configured and prepared build directory a profile's runs start from, built once. */
async function ensureTemplate(srcDir: string, cacheRoot: string, plan: BuildPlan, log: (l: string) => void): Promise<string> {
  const dir = join(cacheRoot, `template-${plan.config}`);
  if (existsSync(join(dir, '.vb-ready'))) return dir;
  log(`configuring the kernel tree (${plan.config}, make prepare) once`);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  for (const args of [[plan.config], ['-j2', 'prepare']]) {
    const r = await execa('make', ['-s', '-C', srcDir, `O=${tmp}`, ...args], { reject: false, all: true });
    if (r.exitCode !== 0) throw new UnavailableError(`make ${args.join(' ')} of the kernel template failed: ${(r.all ?? '').trim().split('\n').slice(-2).join(' | ')}`);
  }
  await writeFile(join(tmp, '.vb-ready'), '');
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

/**
 * Read the shared tree once from the harness before any run: its page cache is then charged to the
 * harness's memory cgroup, not to whichever guest first reads a file (under a hard memory limit
 * that guest would pay for the shared source in reclaim, and the first run of a suite more than
 * the rest). About 2 s when the tree is already cached.
 */
async function warmPageCache(dir: string, profile: ProfileName, log: (l: string) => void): Promise<void> {
  const t0 = performance.now();
  // what no x86 build reads (other architectures, documentation, tools), and below the paper
  // profile (tinyconfig) the drivers' and sound's C files: 660 of the tree's 1300 MB
  const skipC = profile === 'paper' ? '' : ` -o \\( -path '*/linux-source-*/drivers/*' -o -path '*/linux-source-*/sound/*' \\) -name '*.c' -prune`;
  const find = `find "$1" \\( -path '*/linux-source-*/arch/*' ! -path '*/arch/x86*' -o -path '*/linux-source-*/Documentation' -o -path '*/linux-source-*/tools' -o -path '*/linux-source-*/samples' \\) -prune${skipC} -o -type f -print0`;
  await execa('bash', ['-c', `${find} | xargs -0 -r cat > /dev/null`, 'warm', dir]);
  log(`kernel source read into the page cache from the harness in ${((performance.now() - t0) / 1000).toFixed(1)} s (charged to the harness, not to a guest)`);
}

const kernelCompile: Workload = {
  name: 'kernel-compile',
  resource: 'cpu',
  description: "Linux kernel compile (Debian's linux-source), make -j<vCPUs>, out of tree",
  estimatedSeconds: { smoke: 5, quick: 150, paper: 1800 },
  metrics: [
    { metric: 'wall_s', unit: 's', better: 'lower' },
    { metric: 'cpu_s', unit: 's', better: 'lower' },
    // cpu_s split as bash's `time` reports it: user and system CPU seconds of the build's processes
    { metric: 'user_s', unit: 's', better: 'lower' },
    { metric: 'sys_s', unit: 's', better: 'lower' },
  ],
  guestPackages: BUILD_PACKAGES,
  hostPackages: ['linux-source', 'xz-utils', ...BUILD_PACKAGES],
  async prepareHost(ctx: PrepareContext): Promise<Share[]> {
    const { srcDir, cacheRoot } = await ensureSource(ctx.cacheDir, ctx.log);
    await ensureTemplate(srcDir, cacheRoot, BUILD_PLANS[ctx.profile.name], ctx.log);
    tree = { srcDir, cacheRoot };
    await warmPageCache(cacheRoot, ctx.profile.name, ctx.log);
    return [{ host: cacheRoot, guest: cacheRoot, readonly: true }];
  },
  async setup(guest: Guest, ctx: RunContext) {
    if (!tree) throw new Error('kernel-compile used before prepareHost()');
    const $g = guestShell(guest, { timeoutMs: 30_000, signal: ctx.signal });
    const missing = (await $g`for c in make gcc bc flex bison xz; do command -v $c >/dev/null || echo $c; done; test -f ${tree.srcDir}/Makefile || echo source`.text()).split('\n').filter(Boolean);
    if (missing.length) throw new Error(`guest ${guest.name} lacks ${missing.join(', ')} for the kernel compile`);
  },
  async run(guest: Guest, ctx: RunContext): Promise<RunResult> {
    if (!tree) throw new Error('kernel-compile used before prepareHost()');
    const plan = BUILD_PLANS[ctx.profile.name];
    const script = buildScript({
      srcDir: tree.srcDir,
      templateDir: join(tree.cacheRoot, `template-${plan.config}`),
      buildDir: `${guest.workdir}/linux-build`,
      jobs: guest.spec.vcpus,
      targets: plan.targets,
    });
    const r = await guest.sh(script, { signal: ctx.signal });
    const t = parseBuildTime(r.stderr);
    return {
      metrics: [
        { metric: 'wall_s', unit: 's', better: 'lower', value: t.wallS },
        { metric: 'cpu_s', unit: 's', better: 'lower', value: t.userS + t.sysS },
        { metric: 'user_s', unit: 's', better: 'lower', value: t.userS },
        { metric: 'sys_s', unit: 's', better: 'lower', value: t.sysS },
      ],
      raw: [
        { name: 'make.log', text: r.stdout },
        { name: 'time.txt', text: r.stderr },
      ],
    };
  },
};

export default kernelCompile;
