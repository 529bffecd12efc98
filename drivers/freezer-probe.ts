// Whether the cgroup freezer really pauses processes on this host: a counter process in a group of
// the harness's own is frozen, must not count on for a while, is thawed, and must count again.
// Probed once per process (the kernel's answer does not change during a run).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { errorMessage } from '../core/errors.ts';
import type { Capability } from '../core/types.ts';
import { HARNESS_GROUP, cgroupLayout, dirFor, ensureHarnessGroup, killCgroup, removeTree, type CgroupLayout } from './cgroups.ts';
import { freeze, freezerOf, freezerPresent, thaw } from './freezer.ts';

/** How long the frozen counter must stand still, and the thawed one must move. */
const WATCH_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readCounter(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

async function waitForCount(file: string, above: number, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let n = readCounter(file);
  while (n <= above && Date.now() < until) {
    await sleep(10);
    n = readCounter(file);
  }
  return n;
}

/** One line saying how the freezer is driven here, for the manifest. */
export function freezerHow(layout: CgroupLayout): string {
  return layout.version === 1 ? 'cgroup v1 freezer (freezer.state)' : 'cgroup v2 freezer (cgroup.freeze)';
}

async function probe(layout: CgroupLayout): Promise<Capability> {
  const rel = join(HARNESS_GROUP, `freezer-probe-${process.pid}`);
  const dir = dirFor(layout, layout.version === 1 ? 'freezer' : 'cpu', rel);
  if (dir === undefined) return { ok: false, reason: 'no freezer cgroup controller is mounted on this host (cgroup v1 without freezer)' };
  ensureHarnessGroup(layout);
  const tmp = await mkdtemp(join(tmpdir(), 'vb-freezer-probe-'));
  const counter = join(tmp, 'counter');
  const cleanup = async () => {
    await killCgroup(layout, rel).catch(() => undefined);
    await removeTree([dir]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  };
  const undo = onCleanup('freezer probe group', cleanup);
  try {
    mkdirSync(dir, { recursive: true });
    const f = freezerOf(layout, rel)!;
    if (!freezerPresent(f)) return { ok: false, reason: `this kernel has no cgroup freezer (${f.control} missing)` };
    // joins the group first, so that the counter and every sleep it starts are in it
    const child = spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec sh -c \'i=0; while :; do i=$((i+1)); echo $i > "$0"; sleep 0.01; done\' "$2"', 'sh', dir, counter], {
      stdio: 'ignore',
      detached: true,
    });
    child.unref();
    if ((await waitForCount(counter, 0, 5000)) === 0) return { ok: false, reason: 'the freezer probe could not start its counter process' };
    await freeze(f, 5000);
    const frozenAt = readCounter(counter);
    await sleep(WATCH_MS);
    const frozenLater = readCounter(counter);
    await thaw(f, 5000);
    const thawed = await waitForCount(counter, frozenLater, WATCH_MS * 3);
    if (frozenLater !== frozenAt) return { ok: false, reason: `the cgroup freezer reported FROZEN but a counter went on (${frozenAt} -> ${frozenLater} in ${WATCH_MS} ms)` };
    if (thawed <= frozenLater) return { ok: false, reason: `a counter did not go on after the cgroup freezer thawed it (stayed at ${thawed})` };
    return { ok: true, how: freezerHow(layout) };
  } catch (err) {
    return { ok: false, reason: `cgroup freezer probe: ${errorMessage(err)}` };
  } finally {
    await undo();
  }
}

let cached: Promise<Capability> | undefined;

/** The freezer's verdict on this host, probed once per process. */
export function freezerVerdict(layout = cgroupLayout()): Promise<Capability> {
  cached ??= probe(layout);
  return cached;
}
