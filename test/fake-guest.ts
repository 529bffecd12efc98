// A hand-made guest for runner tests with fake drivers: does nothing, starts nothing; a test
// overrides the calls it records or scripts (sh, killAll, destroy, oomKills...).
import type { Guest, GuestSpec } from '../core/types.ts';

export function fakeGuest(spec: GuestSpec, overrides: Partial<Guest> = {}): Guest {
  return {
    name: spec.name,
    platform: 'fake',
    spec,
    accel: 'native',
    workdir: '/nonexistent',
    sh: async () => ({ exitCode: 0, stdout: '', stderr: '', durationMs: 0, timedOut: false }),
    spawn: () => {
      throw new Error('the fakes do not spawn');
    },
    pushFile: async () => undefined,
    pullFile: async () => undefined,
    address: () => undefined,
    usage: async () => ({}),
    killAll: async () => undefined,
    destroy: async () => undefined,
    ...overrides,
  };
}
