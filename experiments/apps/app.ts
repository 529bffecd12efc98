// An application whose start the scaling experiment times (issue 12): a server with a data set
// loaded, so that initializing it is real work. Each app builds its data set once per host and
// size (cached), puts it into a fresh guest, starts its server over it, answers one real request
// of loaded data, and drives a closed loop of its workload mix against an instance.
import type { Guest, ProfileName } from '../../core/types.ts';
import type { Server } from '../../workloads/service-util.ts';
import type { Request } from '../closed-loop.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export interface AppContext {
  signal: AbortSignal;
  log: (line: string) => void;
  cacheDir: string;
  profile: ProfileName;
}

export interface Clients {
  /** One request function per connection (each keeps one request in flight). */
  requests: Request[];
  close(): Promise<void>;
}

export interface App {
  readonly name: string;
  readonly guestPackages: string[];
  readonly hostPackages: string[];
  /** How often readiness is polled (ms). */
  readonly pollMs: number;
  /** The data set of a profile, in words (for notes and the artifacts). */
  size(profile: ProfileName): string;
  /** The data set on the host, built once per host and size (cached under cacheDir/scaling). */
  data(ctx: AppContext): Promise<string>;
  /** Put the data set into a fresh guest (not timed: an image of the app would hold it); returns the app's directory there. */
  install(guest: Guest, data: string, ctx: AppContext): Promise<string>;
  /** Start the server over the installed data on `port`; returns once the process started (not answering yet). */
  start(guest: Guest, dir: string, port: number): Server;
  /** One real request of loaded data (a GET of a loaded key, a SELECT of a loaded row): true when it was answered with it. */
  ask(at: Endpoint, signal?: AbortSignal): Promise<boolean>;
  /** Connections of the app's workload mix against an instance, opened now. */
  clients(at: Endpoint, connections: number, ctx: AppContext): Promise<Clients>;
}

/** Where a server in a guest listens: on bare metal the guest's own loopback address, elsewhere every address of its own network namespace (a restored or cloned guest may have another address). */
export function bindAddress(guest: Guest): string {
  return guest.platform === 'baremetal' ? (guest.address() ?? '127.0.0.1') : '0.0.0.0';
}

/**
 * Poll `app.ask` until it answers (every app.pollMs); fails early when the server process ended,
 * and after timeoutMs naming what never answered.
 */
export async function untilAnswered(app: App, at: Endpoint, timeoutMs: number, signal: AbortSignal, server?: Server): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    if (signal.aborted) throw new Error(`aborted while waiting for ${app.name} at ${at.host}:${at.port}`);
    if (await app.ask(at, signal).catch(() => false)) return;
    const ended = server?.exited();
    if (ended !== undefined) throw new Error(`${app.name} server ${ended}`);
    if (performance.now() >= until) throw new Error(`${app.name} at ${at.host}:${at.port} did not answer a request of its data within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, app.pollMs));
  }
}
