// Child of private-images-sweep.test.ts: makes one private image copy on lxc and one on docker,
// says so on stdout, then waits to be killed (a crashed run that left its copies).
import docker from '../../drivers/docker.ts';
import lxc from '../../drivers/lxc.ts';
import { PROFILES } from '../../core/profiles.ts';
import { CACHE_DIR } from '../../core/host.ts';
import type { GuestSpec } from '../../core/types.ts';
import { REGISTRY, guestPackagesOf } from '../../runner/registry.ts';

const prep = { profile: PROFILES.smoke, cacheDir: CACHE_DIR, guestPackages: guestPackagesOf(REGISTRY), log: (l: string) => process.stderr.write(`${l}\n`) };
const ctx = { ...prep, signal: new AbortController().signal, timeoutS: 120, tiers: {} };
const spec = (name: string): GuestSpec => ({ name, vcpus: 1, cpus: [0], cpuPolicy: 'shares', cpuShares: 1024, memoryBytes: 1024 ** 3, memoryLimit: 'hard', ioWeight: 500, pidsMax: 256, network: false, shares: [], image: 'private' });
const tag = process.argv[2] ?? 'vbcrash';
await lxc.prepare!(prep);
await docker.prepare!(prep);
await lxc.copyImage!(spec(`${tag}-lxc`), ctx);
await docker.copyImage!(spec(`${tag}-docker`), ctx);
process.stdout.write('COPIED\n');
await new Promise(() => undefined);
