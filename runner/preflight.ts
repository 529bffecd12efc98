// Checks experiments ask for before anything starts (Experiment.preflight), such as room on the
// disk their guests write to: a refusal is bad input (one line, exit 2), said before the host lock,
// the package installs or any guest, and by --dry-run alike.
import { UsageError } from '../core/errors.ts';
import { STATE_DIR, diskRoom } from '../core/host.ts';
import type { Cell, DiskRoom, Driver, Experiment, ProfileName } from '../core/types.ts';

export async function preflightExperiments(experiments: Experiment[], cells: Cell[], drivers: Record<string, Driver>, profile: ProfileName): Promise<void> {
  const rooms = new Map<string, Promise<DiskRoom>>();
  // asked once per platform, and only for platforms whose experiments check something
  const roomOf = (platform: string) => {
    if (!rooms.has(platform)) rooms.set(platform, drivers[platform]?.guestDiskRoom?.() ?? Promise.resolve(diskRoom(STATE_DIR)));
    return rooms.get(platform)!;
  };
  for (const e of experiments) {
    if (!e.preflight) continue;
    const params: Record<string, string[]> = {};
    for (const c of cells) if (c.workload === e.name && c.param !== undefined) (params[c.platform] ??= []).push(c.param);
    if (Object.keys(params).length === 0) continue;
    const room = Object.fromEntries(await Promise.all(Object.keys(params).map(async (p) => [p, await roomOf(p)] as const)));
    const why = e.preflight({ profile, params, room });
    if (why) throw new UsageError(why);
  }
}
