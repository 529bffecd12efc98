// Issue 12's migration study (Sharma et al. Section 5.2, Table 2): per platform and workload
// running in the guest (idle, ycsb-redis, kernel-compile), the memory that would have to move, a
// container's checkpoint size where CRIU works, and a real live migration on this host where the
// platform can (VMs: QEMU to a second QEMU): total time, downtime, bytes sent, the workload slowed.
import type { SuiteDefinition } from '../core/matrix.ts';
import migrate from '../experiments/migrate.ts';

const migration: SuiteDefinition = {
  name: 'migration',
  description: 'Migration (issue 12; Section 5.2, Table 2): memory to move per platform and workload, checkpoint size, and live migration time, downtime, bytes sent and slowdown where the platform can migrate.',
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm', 'lxcvm'],
  rows: [],
  experiments: [migrate],
};

export default migration;
