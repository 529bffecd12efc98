// Progress for long runs: on a terminal one status line (cell, run i of n, elapsed, ETA) redrawn
// in place under the log; elsewhere (CI, nohup) one plain line per event.
import { chalk } from 'zx';

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/**
 * ETA from the runs done so far, blended with the planned estimate while few runs are done
 * (the first runs also pay for one-time preparation).
 */
export function eta(doneCount: number, total: number, elapsedS: number, estimatePerRunS: number): number {
  const left = total - doneCount;
  if (left <= 0) return 0;
  if (doneCount === 0) return left * estimatePerRunS;
  const observed = elapsedS / doneCount;
  const w = Math.min(1, doneCount / 5);
  return left * (w * observed + (1 - w) * estimatePerRunS);
}

export class Progress {
  private readonly t0 = Date.now();
  private doneCount = 0;
  private current = '';
  private readonly tty: boolean;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly total: number,
    private readonly estimatePerRunS: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY) && !process.env.CI;
  }

  private status(): string {
    const elapsed = (Date.now() - this.t0) / 1000;
    const left = eta(this.doneCount, this.total, elapsed, this.estimatePerRunS);
    return `[${this.doneCount}/${this.total}] ${this.current}  elapsed ${formatDuration(elapsed)}  ETA ${formatDuration(left)}`;
  }

  private redraw(): void {
    if (this.tty) this.out.write(`\r\x1b[K${chalk.cyan(this.status())}`);
  }

  log(line: string): void {
    if (this.tty) this.out.write(`\r\x1b[K${line}\n`);
    else this.out.write(line + '\n');
    this.redraw();
  }

  begin(label: string): void {
    this.current = `run ${this.doneCount + 1} of ${this.total}: ${label}`;
    if (this.tty) {
      this.redraw();
      this.timer ??= setInterval(() => this.redraw(), 1000);
      this.timer.unref();
    } else {
      this.out.write(this.status() + '\n');
    }
  }

  end(line: string): void {
    this.doneCount++;
    this.log(line);
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.out.write('\r\x1b[K');
  }
}
