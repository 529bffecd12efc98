// Everything the harness creates registers how to undo it here, so that a normal end, a failure
// and Ctrl-C/SIGTERM all run the same undo steps (last created, first removed).

type Undo = { label: string; fn: () => Promise<void> | void };

const stack: Undo[] = [];
let running: Promise<void> | undefined;

/** Register an undo step; returns a function that runs it now and drops it from the stack. */
export function onCleanup(label: string, fn: () => Promise<void> | void): () => Promise<void> {
  const entry: Undo = { label, fn };
  stack.push(entry);
  return async () => {
    const i = stack.indexOf(entry);
    if (i < 0) return;
    stack.splice(i, 1);
    await entry.fn();
  };
}

/** Run all pending undo steps, newest first; failures are reported, never stop the rest. */
export function cleanupAll(log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<void> {
  running ??= (async () => {
    while (stack.length > 0) {
      const entry = stack.pop()!;
      try {
        await entry.fn();
      } catch (err) {
        log(`cleanup: ${entry.label} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })().finally(() => {
    running = undefined;
  });
  return running;
}

export function pendingCleanups(): string[] {
  return stack.map((e) => e.label);
}

let installed = false;
/**
 * On SIGINT/SIGTERM: abort the run, undo everything, exit 130/143. A second signal while cleaning
 * up is ignored on purpose: leaving containers behind is worse than waiting a few seconds.
 */
export function installSignalHandlers(abort: () => void, log?: (line: string) => void): void {
  if (installed) return;
  installed = true;
  let cleaning = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (cleaning) {
        log?.(`${sig} again: still cleaning up, please wait`);
        return;
      }
      cleaning = true;
      log?.(`${sig}: stopping and cleaning up everything this run created`);
      abort();
      void cleanupAll(log).finally(() => process.exit(sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129));
    });
  }
}
