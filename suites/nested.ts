// The study's Figure 12: at 1.5x CPU and memory overcommit, N single-tenant kvm VMs against lxcvm
// (one VM of the same total size running N soft-limited containers), reported as lxcvm / kvm.
import type { SuiteDefinition } from '../core/matrix.ts';

const nested: SuiteDefinition = {
  name: 'nested',
  description: 'Nesting (Sharma et al., Middleware 2016, Figure 12): N VMs against N soft-limited containers in one VM of the same size, at 1.5x overcommit, relative to the VMs.',
  platforms: ['kvm', 'lxcvm'],
  rows: [
    { resource: 'cpu', workload: 'kernel-compile', neighbours: {} },
    { resource: 'network', workload: 'ycsb-redis', neighbours: {} },
  ],
  groups: [
    {
      id: 'fig12',
      platforms: ['kvm', 'lxcvm'],
      workloads: ['kernel-compile', 'ycsb-redis'],
      // vCPUs multiplexed on the cores by weight; the VMs' memory hard, the nested containers' soft
      limits: { kvm: { cpuPolicy: 'shares', memoryLimit: 'hard' }, lxcvm: { cpuPolicy: 'shares', memoryLimit: 'soft' } },
      overcommit: [1.5],
      reference: { axis: 'platform', value: 'kvm' },
    },
  ],
};

export default nested;
