// The arena: one harness cgroup, limited to the tenant memory budget M, that every tenant of an
// overcommitted cell is placed under (bare metal's and LXC's groups, Docker's through
// --cgroup-parent, the QEMU processes of the VM platforms). The tenants together are given f x M,
// the arena holds them to M: the kernel reclaims (and swaps, within the arena's swap bound) and,
// past that, OOM-kills inside the arena only. The harness process stays outside it.
//
// v1: one group per hierarchy (memory limit plus memsw where the kernel accounts swap, cpuset
// with the harness group's CPUs and memory nodes, the others bare); v2: one group.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup } from '../core/cleanup.ts';
import { pidAlive } from '../core/host.ts';
import {
  HARNESS_GROUP, allCgroupMounts, cgroupLayout, cgroupPathsFor, cgroupUsage, delegatedControllers, dirFor, enableSubtree, ensureHarnessGroup, harnessDirs, killCgroup, oomKillsOf, removeTree,
  type CgroupLayout, type CgroupSetting,
} from './cgroups.ts';
import { protectHarness } from './oom-guard.ts';
import { ensureBoundedSwap, sweepSwapFiles, type BoundedSwap } from './swap.ts';
import type { GuestCgroupPaths, GuestUsage } from '../core/types.ts';

export const ARENA_PREFIX = 'arena-';

/** The arena's name for this harness process (GuestSpec.arena). */
export function arenaName(pid = process.pid): string {
  return `${ARENA_PREFIX}${pid}`;
}

/** The harness process an arena group belongs to, from its name (`arena-<pid>` or `arena-<pid>-<run>`); undefined if none. */
export function arenaOwner(name: string): number | undefined {
  const m = /^arena-(\d+)(?:-|$)/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The arena's limits (pure): memory M, and M plus the swap it may use where swap is accounted. */
export function arenaSettings(version: 1 | 2, budgetBytes: number, swapBytes: number): CgroupSetting[] {
  if (version === 1) {
    return [
      { controller: 'memory', file: 'memory.limit_in_bytes', value: String(budgetBytes) },
      // after the memory limit: the kernel refuses memsw below it
      { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(budgetBytes + swapBytes) },
    ];
  }
  return [
    { controller: 'memory', file: 'memory.max', value: String(budgetBytes) },
    { controller: 'memory', file: 'memory.swap.max', value: String(swapBytes) },
  ];
}

function readTrim(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export class Arena {
  readonly rel: string;
  /** Settings this kernel does not offer (memsw without swap accounting). */
  readonly notApplied: CgroupSetting[] = [];
  private undo?: () => Promise<void>;

  constructor(
    readonly name: string,
    readonly budgetBytes: number,
    readonly swapBytes: number,
    readonly layout: CgroupLayout = cgroupLayout(),
  ) {
    this.rel = join(HARNESS_GROUP, name);
  }

  dirs(): string[] {
    return harnessDirs(this.layout, this.rel);
  }

  paths(): GuestCgroupPaths {
    return cgroupPathsFor(this.layout, this.rel);
  }

  /** Whether the harness could set its own oom_score_adj to -1000 (else tenants-first only: drivers/oom-guard.ts). */
  harnessProtected = false;

  create(): void {
    ensureHarnessGroup(this.layout);
    const { undo: unprotect, protected: p } = protectHarness();
    this.harnessProtected = p;
    this.undo = onCleanup(`arena cgroup ${this.rel}`, async () => {
      try {
        await this.teardown();
      } finally {
        unprotect();
      }
    });
    for (const d of this.dirs()) mkdirSync(d, { recursive: true });
    if (this.layout.version === 1) {
      const cpuset = dirFor(this.layout, 'cpuset', this.rel);
      const parent = dirFor(this.layout, 'cpuset', HARNESS_GROUP);
      if (cpuset && parent) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(cpuset, f), readTrim(join(parent, f)) ?? '0');
        // groups that LXC makes below the arena start with its CPUs and memory nodes (an empty
        // cpuset cannot be entered: lxc-start failed with ENOSPC without this)
        writeFileSync(join(cpuset, 'cgroup.clone_children'), '1');
      }
    } else {
      enableSubtree(dirFor(this.layout, 'cpu', this.rel)!, delegatedControllers(this.layout));
    }
    for (const s of arenaSettings(this.layout.version, this.budgetBytes, this.swapBytes)) {
      const d = dirFor(this.layout, s.controller, this.rel);
      const file = d && join(d, s.file);
      if (!file || !existsSync(file)) {
        this.notApplied.push(s);
        continue;
      }
      writeFileSync(file, s.value);
    }
  }

  /** OOM kills inside the arena (all tenants) so far. */
  oomKills(): number {
    return oomKillsOf(this.layout, this.rel) ?? 0;
  }

  usage(): GuestUsage {
    return cgroupUsage(this.layout, this.rel);
  }

  private async teardown(): Promise<void> {
    await killCgroup(this.layout, this.rel);
    const all = allCgroupMounts().map((m) => join(m, this.rel));
    await removeTree([...new Set([...this.dirs(), ...all])]);
    // LXC and runc also made the harness group in hierarchies the harness does not use (devices,
    // name=systemd): gone once empty (the harness's own hierarchies keep theirs until the end)
    for (const m of allCgroupMounts()) {
      const d = join(m, HARNESS_GROUP);
      if (this.dirs().some((x) => x.startsWith(`${m}/`))) continue;
      try {
        if (existsSync(d)) rmdirSync(d);
      } catch {
        /* still used by a guest outside the arena */
      }
    }
  }

  /** Remove the arena now (every tenant in it must be gone; a straggler is killed). */
  async remove(): Promise<void> {
    await this.undo?.();
  }
}

/**
 * Swap an arena of `budget` may use for `demand` bytes of tenants: what they exceed M by, plus a
 * quarter of their memory for what each guest costs beyond its size (QEMU itself, a container's
 * runtime): with the bare excess a 1.5x run OOM-killed one of three TCG VMs here. RAM stays held
 * to M, so the overcommit is as real.
 */
export function arenaSwapBytes(demand: number, budget: number): number {
  const excess = Math.max(0, demand - budget);
  return excess > 0 ? excess + Math.ceil(demand / 4) : 0;
}

/** An arena with the swap its overcommit needs: what a multi-tenant cell runs in. */
export interface OpenArena {
  arena: Arena;
  swap: BoundedSwap;
  /** Remove the arena, then the swap file (also registered with core/cleanup, same order). */
  close(): Promise<void>;
}

/**
 * Create the arena for `demandBytes` of tenant memory (N x G) held to `budgetBytes` (M): a
 * bounded swap file first where the host has too little swap for the part beyond M, then the
 * arena (removed before the swap goes, so swapoff never has to page tenants back in).
 */
export async function openArena(o: { budgetBytes: number; demandBytes: number; log: (line: string) => void; name?: string }): Promise<OpenArena> {
  ensureHarnessGroup();
  const over = arenaSwapBytes(o.demandBytes, o.budgetBytes);
  const swap = await ensureBoundedSwap(over, o.log);
  const arena = new Arena(o.name ?? arenaName(), o.budgetBytes, Math.min(over, swap.availableBytes));
  try {
    arena.create();
  } catch (err) {
    await arena.remove();
    await swap.remove();
    throw err;
  }
  o.log(
    `arena ${arena.rel}: ${(o.budgetBytes / 2 ** 20).toFixed(0)} MiB for ${(o.demandBytes / 2 ** 20).toFixed(0)} MiB of tenants, ${(arena.swapBytes / 2 ** 20).toFixed(0)} MiB of swap; ` +
      (arena.harnessProtected ? 'the harness is exempt from the OOM killer (oom_score_adj -1000)' : 'the harness could not exempt itself from the OOM killer (no CAP_SYS_RESOURCE): tenants are made its first choice instead'),
  );
  return {
    arena,
    swap,
    close: async () => {
      await arena.remove();
      await swap.remove();
    },
  };
}

/**
 * Arenas and swap files a crashed earlier run left. The harness group sweep already empties
 * arenas in the harness's hierarchies; this also removes the arena groups runc made in the
 * hierarchies the harness does not use, then the swap files.
 */
export async function sweepArenas(): Promise<string[]> {
  const found: string[] = [];
  const layout = cgroupLayout();
  for (const m of allCgroupMounts()) {
    const parent = join(m, HARNESS_GROUP);
    if (!existsSync(parent)) continue;
    for (const e of readdirSync(parent, { withFileTypes: true })) {
      // a live harness's arena is its own business (the host lock keeps two harnesses apart, but a sweep must not rely on it)
      const pid = arenaOwner(e.name);
      if (!e.isDirectory() || !e.name.startsWith(ARENA_PREFIX) || pid === process.pid || (pid !== undefined && pidAlive(pid))) continue;
      await killCgroup(layout, join(HARNESS_GROUP, e.name));
      await removeTree([join(parent, e.name)]);
      found.push(`arena cgroup ${join(parent, e.name)}`);
    }
  }
  found.push(...(await sweepSwapFiles()));
  return found;
}
