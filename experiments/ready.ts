// The launch of one guest as the lifecycle experiments time it: from the provision call to the
// guest answering a command of ours ('ready'), whatever the platform's own notion of booted is.
import { guestShell } from '../core/guest-shell.ts';
import type { ExperimentContext, Guest } from '../core/types.ts';

export const since = (t0: number): number => (performance.now() - t0) / 1000;

/** Provision tenant `tenant` and run `true` in it; returns the guest and the seconds from `t0` until it answered. */
export async function launchUntilReady(ctx: ExperimentContext, tenant: number, t0: number): Promise<{ guest: Guest; readyS: number }> {
  const guest = await ctx.provision(tenant);
  const $g = guestShell(guest, { timeoutMs: ctx.timeoutS * 1000, signal: ctx.signal });
  await $g`true`;
  return { guest, readyS: since(t0) };
}
