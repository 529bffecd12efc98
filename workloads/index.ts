// The workload and neighbour registries: one line each.
import type { Neighbour, Workload } from '../core/types.ts';
import bonnie from './bonnie.ts';
import filebench from './filebench.ts';
import forkBomb from './fork-bomb.ts';
import kernelCompile from './kernel-compile.ts';
import { loopNeighbour } from './loop.ts';

export const WORKLOADS: Record<string, Workload> = {
  filebench,
  'kernel-compile': kernelCompile,
};

/** Neighbours by name; a suite row says which kind (competing, orthogonal, adversarial) each one plays. */
export const NEIGHBOURS: Record<string, Neighbour> = {
  'kernel-compile': loopNeighbour(kernelCompile),
  filebench: loopNeighbour(filebench),
  'fork-bomb': forkBomb,
  bonnie,
};

/** Every package any guest image needs, so one cached image serves every suite. */
export function allGuestPackages(): string[] {
  const all = [...Object.values(WORKLOADS), ...Object.values(NEIGHBOURS)].flatMap((w) => w.guestPackages);
  return [...new Set(all)].sort();
}
