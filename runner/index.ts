// The runner's public face: what cli/, contrib/ and tests use. The runner sits above core/,
// drivers/, workloads/ and analysis/ (see DESIGN.md, "The flow"); nothing below imports it.
export { EXIT_FILE_SYSTEM, runSuite } from './suite.ts';
export type { Io } from './io.ts';
export { TCG_SLOWDOWN, hostPackagesFor, platformProfile } from './plan.ts';
export { REGISTRY, type Registry } from './registry.ts';
