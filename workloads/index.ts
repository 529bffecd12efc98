// The workload and neighbour registries: one line each.
import type { Neighbour, Workload } from '../core/types.ts';
import bonnie from './bonnie.ts';
import filebench from './filebench.ts';
import forkBomb from './fork-bomb.ts';
import kernelCompile from './kernel-compile.ts';
import { loopNeighbour } from './loop.ts';
import rubis from './rubis.ts';
import mallocBomb from './malloc-bomb.ts';
import specjbbLike from './specjbb-like.ts';
import udpFlood from './udp-flood.ts';
import ycsbRedis from './ycsb-redis.ts';

export const WORKLOADS: Record<string, Workload> = {
  filebench,
  'kernel-compile': kernelCompile,
  rubis,
  'ycsb-redis': ycsbRedis,
  'specjbb-like': specjbbLike,
};

/** Neighbours by name; a suite row says which kind (competing, orthogonal, adversarial) each one plays. */
export const NEIGHBOURS: Record<string, Neighbour> = {
  'kernel-compile': loopNeighbour(kernelCompile),
  filebench: loopNeighbour(filebench),
  'fork-bomb': forkBomb,
  bonnie,
  'ycsb-redis': loopNeighbour(ycsbRedis),
  'specjbb-like': loopNeighbour(specjbbLike),
  'malloc-bomb': mallocBomb,
  'udp-flood': udpFlood,
};

/** Every package any guest image needs, so one cached image serves every suite. */
export function allGuestPackages(): string[] {
  const all = [...Object.values(WORKLOADS), ...Object.values(NEIGHBOURS)].flatMap((w) => w.guestPackages);
  return [...new Set(all)].sort();
}
