// Helper of lock.test.ts (not a test): a process that takes the host lock when told "go" on stdin,
// prints "got" or "busy <message>", and, holding it, releases it when told again (or dies).
import { acquireLock } from '../../core/lock.ts';

let step = 0;
let release: (() => Promise<void>) | undefined;
process.stdin.on('data', async () => {
  step++;
  if (step === 1) {
    try {
      release = await acquireLock();
      process.stdout.write('got\n');
    } catch (err) {
      process.stdout.write(`busy ${(err as Error).message}\n`);
      process.exit(0);
    }
  } else {
    await release?.();
    process.exit(0);
  }
});
process.stdout.write('ready\n');
