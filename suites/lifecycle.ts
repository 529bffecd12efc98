// Issue 11's first part: what starting and keeping a guest costs on each platform. `launch`: one
// guest to ready and to its service answering, host page cache cold and warm; `storm`: N guests at
// once, on a shared image or private copies; `footprint`: disk and idle memory of one guest;
// `contention`: one launch beside d disk-stressing neighbours; `image`: each platform's image
// build, its time and size; `cow`: a write-heavy job in the guest's own root file system against
// a plain directory. Experiments (procedures run once per planned run), not a workload matrix.
import type { SuiteDefinition } from '../core/matrix.ts';
import launch from '../experiments/launch.ts';
import storm from '../experiments/storm.ts';
import footprint from '../experiments/footprint.ts';
import image from '../experiments/image.ts';
import cow from '../experiments/cow.ts';
import contention from '../experiments/contention.ts';

const lifecycle: SuiteDefinition = {
  name: 'lifecycle',
  description: 'Lifecycle (issue 11; Sharma et al. Section 7.2, YOLO boot storms): launch latency to ready and to a service answering, cold and warm, N guests launched at once, the disk and idle memory one guest costs, image build time and size (Tables 3-4), and copy-on-write write overhead (Table 5).',
  platforms: ['baremetal', 'lxc', 'docker', 'kvm', 'lightvm', 'lxcvm'],
  rows: [],
  experiments: [launch, storm, footprint, contention, image, cow],
};

export default lifecycle;
