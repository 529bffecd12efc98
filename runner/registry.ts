// What the runner can run: drivers, workloads and neighbours by name. The runner is handed one of
// these (the real registries by default), so a test can run the whole per-run lifecycle with a
// fake driver and a fake workload, without root or guests.
import type { SuiteDefinition } from '../core/matrix.ts';
import type { Driver, Experiment, Neighbour, Workload } from '../core/types.ts';
import { DRIVERS } from '../drivers/index.ts';
import { NEIGHBOURS, WORKLOADS } from '../workloads/index.ts';

export interface Registry {
  drivers: Record<string, Driver>;
  workloads: Record<string, Workload>;
  neighbours: Record<string, Neighbour>;
  /** The running suite's experiments by name (withExperiments); the real registry has none of its own. */
  experiments?: Record<string, Experiment>;
}

/** The registry a suite runs with: the drivers, workloads and neighbours plus the suite's own experiments. */
export function withExperiments(r: Registry, def: SuiteDefinition): Registry {
  if (!def.experiments?.length) return r;
  for (const e of def.experiments) if (e.name in r.workloads) throw new Error(`suite ${def.name}: experiment ${e.name} has the name of a workload`);
  return { ...r, experiments: { ...r.experiments, ...Object.fromEntries(def.experiments.map((e) => [e.name, e])) } };
}

/** The harness's real platforms, workloads and neighbours. */
export const REGISTRY: Registry = { drivers: DRIVERS, workloads: WORKLOADS, neighbours: NEIGHBOURS };

/** Every package any guest image needs: one cached image serves every suite (the real registry: allGuestPackages()). */
export function guestPackagesOf(r: Registry): string[] {
  const all = [...Object.values(r.workloads), ...Object.values(r.neighbours)].flatMap((w) => w.guestPackages);
  return [...new Set(all)].sort();
}

/** Metric names a workload's run writes (a run is complete when all of them are in samples.jsonl; an experiment's optional ones may be absent). */
export const metricsOf = (r: Registry) => (workload: string) => (r.workloads[workload]?.metrics ?? r.experiments?.[workload]?.metrics.filter((m) => !m.optional))?.map((m) => m.metric);
