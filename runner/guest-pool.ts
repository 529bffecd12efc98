// Every guest an experiment provisions during one run, so that the runner destroys them all when
// the run ends however it ends, including guests still being provisioned when the procedure threw
// or timed out half-way through a boot storm: those are waited for (bounded) and destroyed too,
// and one that arrives even later is destroyed as it arrives.
import { errorMessage } from '../core/errors.ts';
import type { Guest, ImageCopy } from '../core/types.ts';

/** How long closing waits for provisions still under way before destroying what has arrived. */
const PENDING_GRACE_MS = 120_000;

export class GuestPool {
  private readonly live: Guest[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private closing = false;
  private swept = false;
  /** Every guest that arrived, in order (destroyed ones too), for the run's record. */
  readonly all: Guest[] = [];
  /** Private image copies made in this run: removed at close, after the guests (a guest removes its own on destroy). */
  private readonly copies: ImageCopy[] = [];

  constructor(
    private readonly log: (line: string) => void,
    private readonly graceMs = PENDING_GRACE_MS,
  ) {}

  /** Provision through `make` and keep the guest for destruction at close(). */
  provision(make: () => Promise<Guest>): Promise<Guest> {
    if (this.closing) return Promise.reject(new Error('the run is over: no guest may be provisioned now'));
    const got = make().then(async (g) => {
      this.all.push(g);
      if (this.swept) {
        // arrived after the run was cleaned up: it must not outlive it
        await this.destroyOne(g);
        throw new Error(`guest ${g.name} arrived after its run ended; destroyed`);
      }
      this.live.push(g);
      return g;
    });
    const settled = got.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
    return got;
  }

  /** Make a private image copy through `make` and keep it for removal at close(). */
  async copy(make: () => Promise<ImageCopy>): Promise<ImageCopy> {
    if (this.closing) throw new Error('the run is over: no image may be copied now');
    const c = await make();
    this.copies.push(c);
    if (this.closing) await this.removeCopy(c);
    return c;
  }

  /** Destroy one guest of this pool now. */
  async destroy(guest: Guest): Promise<void> {
    const i = this.live.findIndex((g) => g.name === guest.name);
    if (i < 0) return;
    const [g] = this.live.splice(i, 1);
    await g!.destroy();
  }

  /** No more guests; wait (bounded) for the ones under way, then destroy every guest, newest first. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.graceMs)));
      await Promise.race([Promise.all([...this.pending]), grace]);
      clearTimeout(timer);
      if (this.pending.size > 0) this.log(`${this.pending.size} guest(s) still being provisioned after ${Math.round(this.graceMs / 1000)} s: destroyed when they arrive, and by the suite's cleanup at the latest`);
    }
    this.swept = true;
    while (this.live.length > 0) await this.destroyOne(this.live.pop()!);
    while (this.copies.length > 0) await this.removeCopy(this.copies.pop()!);
  }

  private async removeCopy(c: ImageCopy): Promise<void> {
    try {
      await c.remove();
    } catch (err) {
      this.log(`could not remove a private image copy: ${errorMessage(err)}`);
    }
  }

  private async destroyOne(g: Guest): Promise<void> {
    try {
      await g.destroy();
    } catch (err) {
      this.log(`could not destroy guest ${g.name}: ${errorMessage(err)}`);
    }
  }
}
