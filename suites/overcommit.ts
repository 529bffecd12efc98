// The study's Figures 9 and 11: N tenants sharing f x the host's CPUs and f x a memory budget M
// (N x V = f x C, N x G = f x M; core/tenancy.ts). Figure 9: hard limits at 1x, 1.5x and 2x,
// each against 1x on the same platform. Figure 11: soft against hard memory limits on lxc at
// 1.5x, and lxc soft against kvm at 2x.
import type { SuiteDefinition } from '../core/matrix.ts';

const overcommit: SuiteDefinition = {
  name: 'overcommit',
  description: 'Overcommitment (Sharma et al., Middleware 2016, Figures 9 and 11): tenants sharing 1x, 1.5x and 2x the host\'s CPUs and a memory budget, with hard and soft limits.',
  // bare metal: the same cgroup limits on plain processes, for reference beside the study's three
  platforms: ['baremetal', 'lxc', 'kvm', 'lightvm'],
  rows: [
    { resource: 'cpu', workload: 'kernel-compile', neighbours: {} },
    { resource: 'memory', workload: 'specjbb-like', neighbours: {} },
    { resource: 'network', workload: 'ycsb-redis', neighbours: {} },
  ],
  groups: [
    { id: 'fig9', platforms: ['baremetal', 'lxc', 'kvm', 'lightvm'], workloads: ['kernel-compile', 'specjbb-like'], cpuPolicy: ['cpuset'], memoryLimit: ['hard'], overcommit: [1, 1.5, 2], reference: { axis: 'overcommit', value: 1 } },
    { id: 'fig11-limits', platforms: ['lxc'], workloads: ['ycsb-redis', 'specjbb-like'], cpuPolicy: ['cpuset'], memoryLimit: ['hard', 'soft'], overcommit: [1.5], reference: { axis: 'memoryLimit', value: 'hard' } },
    {
      id: 'fig11-platform',
      platforms: ['lxc', 'kvm'],
      workloads: ['specjbb-like'],
      cpuPolicy: ['cpuset'],
      limits: { lxc: { memoryLimit: 'soft' }, kvm: { memoryLimit: 'hard' } },
      overcommit: [2],
      reference: { axis: 'platform', value: 'kvm' },
    },
  ],
};

export default overcommit;
