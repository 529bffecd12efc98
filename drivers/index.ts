// The platform registry: one line per driver.
import type { Driver } from '../core/types.ts';
import baremetal from './baremetal.ts';
import docker from './docker.ts';
import kvm from './kvm.ts';
import lightvm from './lightvm.ts';
import lxc from './lxc.ts';
import lxcvm from './lxcvm.ts';

export const DRIVERS: Record<string, Driver> = { baremetal, lxc, docker, kvm, lxcvm, lightvm };
