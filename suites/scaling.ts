// Issue 12's scaling study (the seeds' cold, warm and hot starts): a new instance of an
// initialized app (Redis with YCSB records loaded, MariaDB with a table), started cold from the
// image, restored warm from a checkpoint, cloned hot from a running one, or resumed from pause;
// seconds to running and to the first answer, and its first seconds of service. Cells a platform
// cannot do here (no checkpoint, clone or pause) are skipped with its probe's reason.
// The smoke profile keeps Redis only (CI's budget); quick and paper add MariaDB.
import type { SuiteDefinition } from '../core/matrix.ts';
import scale from '../experiments/scale.ts';

const scaling: SuiteDefinition = {
  name: 'scaling',
  description: 'Scaling (issue 12): cold, warm (checkpoint restore), hot (live clone) and resumed starts of Redis and MariaDB with their data loaded: start and readiness latency, checkpoint size, and the first seconds of service.',
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm', 'lxcvm'],
  rows: [],
  experiments: [scale],
};

export default scaling;
