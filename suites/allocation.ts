// The study's Figure 10: k tenants each given 1/k of the host's CPUs by cpuset (exclusive cores),
// by shares (equal weights on every core) or by a CFS quota, compared with cpuset; all tenants
// busy, or only the measured one (shares then let it use the idle tenants' cores).
import type { SuiteDefinition } from '../core/matrix.ts';

const allocation: SuiteDefinition = {
  name: 'allocation',
  description: 'CPU allocation (Sharma et al., Middleware 2016, Figure 10): k tenants each given 1/k of the CPUs by cpuset, shares or quota, all busy or one busy, relative to cpuset.',
  platforms: ['lxc', 'baremetal'],
  rows: [
    { resource: 'memory', workload: 'specjbb-like', neighbours: {} },
    { resource: 'cpu', workload: 'kernel-compile', neighbours: {} },
  ],
  groups: [
    {
      id: 'fig10',
      platforms: ['lxc', 'baremetal'],
      workloads: ['specjbb-like', 'kernel-compile'],
      cpuPolicy: ['cpuset', 'shares', 'quota'],
      memoryLimit: ['hard'],
      allocation: { tenants: [2], busy: ['all', 'one'] },
      reference: { axis: 'cpuPolicy', value: 'cpuset' },
    },
  ],
};

export default allocation;
