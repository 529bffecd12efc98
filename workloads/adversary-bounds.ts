// The time bounds every adversarial neighbour carries, layered so that each outer one fires only
// when the inner one failed: (1) the adversary's own deadline, kept inside its guest by its
// script; (2) the runner's deadline kill (the run's timeout + 120 s, runner/measure.ts); (3) a
// watchdog outside the harness (core/watchdog.ts) that freezes and kills the guest even when the
// harness itself was killed.
import { startWatchdog, type Watchdog } from '../core/watchdog.ts';
import type { Guest, RunContext } from '../core/types.ts';

/** The adversary stops itself this long after the measured run's timeout. */
export const OWN_DEADLINE_GRACE_S = 60;
/** The watchdog fires this long after the adversary's own deadline (after the runner's kill too). */
export const WATCHDOG_AFTER_S = 90;

export function ownDeadlineS(ctx: Pick<RunContext, 'timeoutS'>): number {
  return ctx.timeoutS + OWN_DEADLINE_GRACE_S;
}

export function adversaryWatchdog(guest: Guest, ctx: Pick<RunContext, 'timeoutS'>): Watchdog {
  return startWatchdog(guest, ownDeadlineS(ctx) + WATCHDOG_AFTER_S);
}
