// Whether two runs can be compared at all: the same suite and profile, the same host and hardware
// (unless allowed), guests of the same size, VM platforms under the same acceleration. Refusals are
// UsageErrors (one line, exit 2); smaller differences (kernel, tool versions, harness commit,
// timeout) become notes of the report. Pure.
import { UsageError } from '../core/errors.ts';
import type { Manifest } from '../core/results.ts';
import type { LoadedRun } from './resultdir.ts';
import { runHost } from './resultdir.ts';

export interface RunInfo {
  dir: string;
  host: string;
  created: string;
  commit: string;
  dirty: boolean;
  profile: string;
  kernel: string;
}


export function runInfo(run: LoadedRun): RunInfo {
  const m = run.manifest as Partial<Manifest>;
  return {
    dir: run.dir,
    host: runHost(run.manifest),
    created: typeof m.created === 'string' ? m.created : '',
    commit: m.harness?.commit ?? 'unknown',
    dirty: m.harness?.dirty ?? false,
    profile: m.profile?.name ?? m.options?.profile ?? 'unknown',
    kernel: m.host?.os?.kernel ?? 'unknown',
  };
}

export function distinct<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

export function fmtSet(xs: readonly unknown[]): string {
  return xs.map((x) => String(x)).join('+') || 'none';
}

/** How the hosts of two runs differ (name, CPU, cores, memory): [] when they are the same machine. */
export function hostDifferences(base: Manifest, cand: Manifest): string[] {
  const out: string[] = [];
  const bh = (base as Partial<Manifest>).host;
  const ch = (cand as Partial<Manifest>).host;
  if (runHost(base) !== runHost(cand)) out.push(`host '${runHost(base)}' vs '${runHost(cand)}'`);
  if (bh && ch) {
    if (bh.cpu?.brand !== ch.cpu?.brand) out.push(`CPU '${bh.cpu?.brand}' vs '${ch.cpu?.brand}'`);
    if (bh.cpu?.cores !== ch.cpu?.cores) out.push(`${bh.cpu?.cores} vs ${ch.cpu?.cores} CPU cores`);
    if (typeof bh.memoryBytes === 'number' && typeof ch.memoryBytes === 'number' && Math.abs(bh.memoryBytes - ch.memoryBytes) > 0.02 * bh.memoryBytes) {
      out.push(`${(bh.memoryBytes / 2 ** 30).toFixed(1)} vs ${(ch.memoryBytes / 2 ** 30).toFixed(1)} GiB of memory`);
    }
  }
  return out;
}

/**
 * Refuse (UsageError) when two runs cannot be compared; return notes for differences that are
 * worth saying but do not make the comparison meaningless (kernel, tools, harness commit, timeout).
 */
export function checkComparable(base: LoadedRun, cand: LoadedRun, opts: { allowOtherHost?: boolean } = {}): string[] {
  const b = base.manifest as Partial<Manifest>;
  const c = cand.manifest as Partial<Manifest>;
  const bd = base.dir;
  const cd = cand.dir;
  const refuse = (why: string) => {
    throw new UsageError(`cannot compare ${bd} with ${cd}: ${why}`);
  };
  if (b.suite !== c.suite) refuse(`different suites ('${b.suite}' vs '${c.suite}')`);
  const bp = b.profile?.name ?? b.options?.profile;
  const cp = c.profile?.name ?? c.options?.profile;
  if (bp && cp && bp !== cp) refuse(`different profiles ('${bp}' vs '${cp}'): workloads do different amounts of work`);

  const notes: string[] = [];
  const bh = b.host;
  const ch = c.host;
  const hostDiffs = hostDifferences(base.manifest, cand.manifest);
  if (hostDiffs.length > 0) {
    if (!opts.allowOtherHost) refuse(`${hostDiffs.join(', ')} (pass --allow-other-host to compare anyway)`);
    notes.push(`runs come from different hosts or hardware: ${hostDiffs.join(', ')}`);
  }

  // what each guest was given, as actually run (after fitting to the host)
  const size = (run: LoadedRun) => ({
    vcpus: distinct(run.measured.map((s) => s.vcpus)).sort(),
    mem: distinct(run.measured.map((s) => s.memoryBytes)).sort(),
  });
  const bs = size(base);
  const cs = size(cand);
  if (fmtSet(bs.vcpus) !== fmtSet(cs.vcpus)) refuse(`guests had ${fmtSet(bs.vcpus)} vCPU(s) in the baseline but ${fmtSet(cs.vcpus)} in the candidate`);
  if (fmtSet(bs.mem) !== fmtSet(cs.mem)) {
    const gib = (xs: unknown[]) => xs.map((x) => `${(Number(x) / 2 ** 30).toFixed(2)} GiB`).join('+');
    refuse(`guests had ${gib(bs.mem)} of memory in the baseline but ${gib(cs.mem)} in the candidate`);
  }
  // acceleration per platform: a VM under TCG is not the same machine as under KVM
  for (const [platform, acc] of Object.entries(b.accel ?? {})) {
    const other = c.accel?.[platform];
    if (other !== undefined && other !== acc) refuse(`platform ${platform} ran with accel '${acc}' in the baseline but '${other}' in the candidate`);
  }

  const bo = b.options;
  const co = c.options;
  if (bo && co) {
    if (bo.timeoutS !== co.timeoutS) notes.push(`run timeout differs (${bo.timeoutS} s vs ${co.timeoutS} s): DNF counts are not on the same footing`);
    if (bo.pidsMax !== co.pidsMax) notes.push(`pids limit differs (${bo.pidsMax} vs ${co.pidsMax}): adversarial neighbours were bounded differently`);
    if (bo.reps !== co.reps) notes.push(`repetitions differ (${bo.reps} vs ${co.reps})`);
  }
  if (bh?.os?.kernel && ch?.os?.kernel && bh.os.kernel !== ch.os.kernel) notes.push(`kernel differs: ${bh.os.kernel} vs ${ch.os.kernel}`);
  if (bh && ch && bh.cgroupVersion !== ch.cgroupVersion) notes.push(`cgroup version differs: v${bh.cgroupVersion} vs v${ch.cgroupVersion}`);
  const bc = b.harness?.commit;
  const cc = c.harness?.commit;
  if (bc && cc && bc !== cc) notes.push(`harness commit differs: ${bc.slice(0, 12)} vs ${cc.slice(0, 12)}${c.harness?.dirty ? ' (candidate tree dirty)' : ''}`);
  const changedTools = Object.keys({ ...b.tools, ...c.tools })
    .filter((k) => (b.tools ?? {})[k] !== (c.tools ?? {})[k])
    .map((k) => `${k} '${(b.tools ?? {})[k] ?? 'absent'}' -> '${(c.tools ?? {})[k] ?? 'absent'}'`);
  if (changedTools.length > 0) notes.push(`tool versions differ: ${changedTools.join('; ')}`);
  return notes;
}

/** The metrics and cells of two runs, for checking a tolerance file against them. */
export function namesOf(...runs: LoadedRun[]): { metrics: string[]; cells: string[] } {
  const all = runs.flatMap((r) => r.measured);
  return { metrics: distinct(all.map((s) => s.metric)).sort(), cells: distinct(all.map((s) => s.cell)) };
}

