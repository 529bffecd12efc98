// The study's Section 4.1: each platform alone, every workload with no neighbour, compared with
// bare metal (the ratio column of summary.csv is platform / bare metal, with its CI).
import type { SuiteDefinition } from '../core/matrix.ts';

const baseline: SuiteDefinition = {
  name: 'baseline',
  description: 'Baseline performance (Sharma et al., Middleware 2016, Section 4.1): every workload alone on each platform, relative to bare metal.',
  reference: 'baremetal',
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lxcvm', 'lightvm'],
  rows: [
    { resource: 'cpu', workload: 'kernel-compile', neighbours: {} },
    { resource: 'disk', workload: 'filebench', neighbours: {} },
    { resource: 'memory', workload: 'specjbb-like', neighbours: {} },
    { resource: 'network', workload: 'ycsb-redis', neighbours: {} },
  ],
};

export default baseline;
