// The RunContext the driver-level integration tests give guests: the smoke profile, the harness's
// cache, every workload's guest packages, a 2-minute timeout and log lines on the test's output.
import { CACHE_DIR } from '../core/host.ts';
import { PROFILES } from '../core/profiles.ts';
import type { RunContext } from '../core/types.ts';
import { allGuestPackages } from '../workloads/index.ts';

export const smokeContext: RunContext = {
  profile: PROFILES.smoke,
  cacheDir: CACHE_DIR,
  guestPackages: allGuestPackages(),
  log: (l) => console.log(l),
  signal: new AbortController().signal,
  timeoutS: 120,
  tiers: {},
};
