// Issue 12, at plan time: what the run's platforms can do with a running guest (pause, checkpoint,
// migrate, clone), probed for real once before planning when one of the run's experiments says
// what its cells need (Experiment.needs). Every verdict goes into the manifest and onto the
// terminal (one line per platform); cells whose capability is not ok are then skipped with the
// probe's reason (core/matrix.ts experimentCells).
import type { Capabilities, CapabilityName, Driver, Experiment, ProfileName } from '../core/types.ts';
import { capabilitiesOf } from './experiment.ts';

export const CAPABILITY_NAMES: CapabilityName[] = ['pause', 'checkpoint', 'migrate', 'clone'];

/** One line per platform: each capability ok (how) or no (why). */
export function capabilityLine(platform: string, caps: Capabilities): string {
  const parts = CAPABILITY_NAMES.map((n) => {
    const c = caps[n];
    return c.ok ? `${n} ok${c.how ? ` (${c.how})` : ''}` : `${n} no (${c.reason ?? 'no reason given'})`;
  });
  return `capabilities of ${platform}: ${parts.join('; ')}`;
}

/**
 * The verdicts of the platforms that run a capability-declaring experiment (undefined when no
 * experiment of the run declares needs). A probe that throws is a verdict too: every capability
 * refused with its message.
 */
export async function probeCapabilities(experiments: Experiment[], drivers: Driver[], profile: ProfileName, log: (line: string) => void): Promise<Record<string, Capabilities> | undefined> {
  const asking = experiments.filter((e) => e.needs !== undefined);
  if (asking.length === 0) return undefined;
  const out: Record<string, Capabilities> = {};
  for (const d of drivers) {
    if (!asking.some((e) => !e.platforms || e.platforms.includes(d.name))) continue;
    let caps: Capabilities;
    try {
      caps = await capabilitiesOf(d, profile);
    } catch (err) {
      const no = { ok: false, reason: `its capability probe failed: ${(err as Error).message.split('\n')[0]}` };
      caps = { pause: no, checkpoint: no, migrate: no, clone: no };
    }
    out[d.name] = caps;
    log(capabilityLine(d.name, caps));
  }
  return out;
}
