// The three profiles. `paper` carries the study's per-guest size (2 vCPUs, 4 GiB); workloads keep
// their own per-profile parameters beside their code.
import type { Profile, ProfileName } from './types.ts';

const GiB = 1024 ** 3;

export const PROFILES: Record<ProfileName, Profile> = {
  smoke: { name: 'smoke', vcpus: 1, memoryBytes: 1 * GiB, reps: 3, warmup: 0, timeoutS: 180, pidsMax: 1024 },
  quick: { name: 'quick', vcpus: 2, memoryBytes: 2 * GiB, reps: 5, warmup: 1, timeoutS: 900, pidsMax: 1024 },
  paper: { name: 'paper', vcpus: 2, memoryBytes: 4 * GiB, reps: 10, warmup: 1, timeoutS: 7200, pidsMax: 1024 },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];
