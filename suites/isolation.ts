// The study's Section 4.2: how well each platform isolates a tenant from a neighbour that
// competes for the same resource, uses another one, or misbehaves. Each cell is compared with
// the same workload alone on the same platform.
import type { SuiteDefinition } from '../core/matrix.ts';

const isolation: SuiteDefinition = {
  name: 'isolation',
  description: 'Performance isolation (Sharma et al., Middleware 2016, Section 4.2): a measured guest beside a competing, orthogonal or adversarial neighbour.',
  reference: 'no-neighbour',
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lxcvm', 'lightvm'],
  rows: [
    { resource: 'cpu', workload: 'kernel-compile', neighbours: { competing: 'kernel-compile', orthogonal: 'specjbb-like', adversarial: 'fork-bomb' } },
    { resource: 'disk', workload: 'filebench', neighbours: { competing: 'filebench', orthogonal: 'kernel-compile', adversarial: 'bonnie' } },
    { resource: 'memory', workload: 'specjbb-like', neighbours: { competing: 'specjbb-like', orthogonal: 'kernel-compile', adversarial: 'malloc-bomb' } },
    // YCSB-Redis is a neighbour of the network row; alone here so it has its no-neighbour value on every platform
    { resource: 'network', workload: 'ycsb-redis', neighbours: {} },
    { resource: 'network', workload: 'rubis', neighbours: { competing: 'ycsb-redis', orthogonal: 'specjbb-like', adversarial: 'udp-flood' } },
  ],
};

export default isolation;
