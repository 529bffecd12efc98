// The cgroup freezer: stop every process of a group where it stands, keeping all its state, and
// let it go on again. v1: freezer.state (THAWED, FREEZING, FROZEN); v2: cgroup.freeze, with
// `frozen 1` in cgroup.events once every process has stopped. Writing the request is not enough:
// a group is only paused when the kernel says every task in it is frozen, so freeze() waits for it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dirFor, type CgroupLayout } from './cgroups.ts';

export type FreezerState = 'THAWED' | 'FREEZING' | 'FROZEN';

/** v1 freezer.state text. */
export function parseFreezerState(text: string): FreezerState {
  const s = text.trim();
  if (s === 'THAWED' || s === 'FREEZING' || s === 'FROZEN') return s;
  throw new Error(`unexpected freezer.state '${s}'`);
}

/** v2 cgroup.events text: whether its `frozen` line says 1. */
export function parseFrozenEvent(text: string): boolean {
  const m = text.match(/^frozen ([01])$/m);
  if (!m) throw new Error("cgroup.events has no 'frozen' line (the v2 freezer needs Linux 5.2)");
  return m[1] === '1';
}

/** The files that freeze one group and say whether it is frozen. */
export interface Freezer {
  version: 1 | 2;
  /** v1 freezer.state (written and read); v2 cgroup.freeze (written). */
  control: string;
  /** v1 freezer.state; v2 cgroup.events. */
  status: string;
}

/** A group's freezer, or undefined where the host has none (v1 without the freezer hierarchy). */
export function freezerOf(layout: CgroupLayout, rel: string): Freezer | undefined {
  if (layout.version === 1) {
    const d = dirFor(layout, 'freezer', rel);
    return d === undefined ? undefined : { version: 1, control: join(d, 'freezer.state'), status: join(d, 'freezer.state') };
  }
  const d = dirFor(layout, 'cpu', rel);
  return d === undefined ? undefined : { version: 2, control: join(d, 'cgroup.freeze'), status: join(d, 'cgroup.events') };
}

/** Whether the freezer's files exist (the group exists and the kernel has a freezer for it). */
export function freezerPresent(f: Freezer): boolean {
  return existsSync(f.control) && existsSync(f.status);
}

export function isFrozen(f: Freezer): boolean {
  const text = readFileSync(f.status, 'utf8');
  return f.version === 1 ? parseFreezerState(text) === 'FROZEN' : parseFrozenEvent(text);
}

function state(f: Freezer): string {
  try {
    const text = readFileSync(f.status, 'utf8');
    return f.version === 1 ? text.trim() : `frozen ${parseFrozenEvent(text) ? 1 : 0}`;
  } catch (err) {
    return (err as Error).message;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: Freezer, frozen: boolean, timeoutMs: number): Promise<boolean> {
  const t0 = performance.now();
  // polled, at first back to back: the freeze of a small group takes well under a millisecond
  for (let i = 0; ; i++) {
    if (isFrozen(f) === frozen) return true;
    if (performance.now() - t0 > timeoutMs) return false;
    if (i > 20) await sleep(Math.min(10, i - 20));
    else await new Promise((r) => setImmediate(r));
  }
}

/**
 * Freeze the group and wait until every process in it is frozen. If that does not happen within
 * timeoutMs (a task stuck in the kernel), the group is thawed again and this throws: never half paused.
 */
export async function freeze(f: Freezer, timeoutMs = 10_000): Promise<void> {
  writeFileSync(f.control, f.version === 1 ? 'FROZEN' : '1');
  if (await until(f, true, timeoutMs)) return;
  const seen = state(f);
  writeFileSync(f.control, f.version === 1 ? 'THAWED' : '0');
  throw new Error(`cgroup ${f.control} did not freeze within ${timeoutMs / 1000} s (${seen}); thawed again`);
}

/** Thaw the group and wait until the kernel reports it running. */
export async function thaw(f: Freezer, timeoutMs = 10_000): Promise<void> {
  writeFileSync(f.control, f.version === 1 ? 'THAWED' : '0');
  if (!(await until(f, false, timeoutMs))) throw new Error(`cgroup ${f.control} did not thaw within ${timeoutMs / 1000} s (${state(f)})`);
}
