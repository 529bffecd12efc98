// Issue 11's first part: what starting and keeping a guest costs on each platform. `launch`: one
// guest to ready and to its service answering, host page cache cold and warm; `storm`: N guests at
// once; `footprint`: disk and idle memory of one guest. Experiments (procedures run once per
// planned run), not a workload matrix.
import type { SuiteDefinition } from '../core/matrix.ts';
import launch from '../experiments/launch.ts';
import storm from '../experiments/storm.ts';
import footprint from '../experiments/footprint.ts';
import contention from '../experiments/contention.ts';

const lifecycle: SuiteDefinition = {
  name: 'lifecycle',
  description: 'Lifecycle (issue 11; Sharma et al. Section 7.2, YOLO boot storms): launch latency to ready and to a service answering, cold and warm, N guests launched at once, and the disk and idle memory one guest costs.',
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm', 'lxcvm'],
  rows: [],
  experiments: [launch, storm, footprint, contention],
};

export default lifecycle;
