// The host's speed just before a run: the same fixed work every time (calibration-work.js: an
// integer loop and a memory pass), one process pinned to each of the measured guest's host CPUs,
// all at once, as the guest will use them. Recorded on every sample of the run, so that drift of
// the host (other tenants of a cloud machine, frequency, thermal) can be told from the platform.
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import type { Calibration } from '../core/types.ts';

const WORK = fileURLToPath(new URL('./calibration-work.js', import.meta.url));

/** One line of calibration-work.js output; throws when it is not one. */
export function parseCalibrationLine(line: string): { cpuMs: number; memMs: number; sysMs?: number } {
  const o = JSON.parse(line.trim()) as { cpuMs?: unknown; memMs?: unknown; sysMs?: unknown };
  if (typeof o.cpuMs !== 'number' || typeof o.memMs !== 'number' || !(o.cpuMs > 0) || !(o.memMs > 0)) throw new Error(`not a calibration result: ${line.trim().slice(0, 80)}`);
  return typeof o.sysMs === 'number' && o.sysMs > 0 ? { cpuMs: o.cpuMs, memMs: o.memMs, sysMs: o.sysMs } : { cpuMs: o.cpuMs, memMs: o.memMs };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Run the fixed work on each of `cpus` at once (pinned with taskset); mean over the CPUs. */
export async function calibrate(cpus: number[], signal?: AbortSignal): Promise<Calibration> {
  const list = cpus.length ? [...new Set(cpus)] : [0];
  const results = await Promise.all(
    list.map(async (cpu) => {
      const r = await execa('taskset', ['-c', String(cpu), process.execPath, WORK], { timeout: 30_000, cancelSignal: signal, env: {}, extendEnv: false });
      return parseCalibrationLine(r.stdout);
    }),
  );
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sys = results.flatMap((r) => (r.sysMs === undefined ? [] : [r.sysMs]));
  return { cpuMs: round3(mean(results.map((r) => r.cpuMs))), memMs: round3(mean(results.map((r) => r.memMs))), ...(sys.length === results.length ? { sysMs: round3(mean(sys)) } : {}), cpus: list };
}
