// A drift-free fixed-timestep loop: tick n is due at start + n × period, whatever the timers did
// before. A late timer runs the ticks that are due (up to `maxCatchUpTicks`) back to back, so the
// simulation keeps real time; past that it skips ahead instead of spiralling.

export interface TickInfo {
  /** Ticks run so far, this one excluded (the simulation's clock). */
  tick: number;
  /** Milliseconds between this tick's due time and its start. */
  lateMs: number;
}

export interface FixedTimestepLoopOptions {
  /** Ticks per second. */
  hz: number;
  /** The work of one tick. */
  onTick: (info: TickInfo) => void;
  /** Most ticks run back to back after a late wake-up; the rest are skipped. Default 10. */
  maxCatchUpTicks?: number;
  /** Milliseconds, monotonic. Default `performance.now`. */
  now?: () => number;
  /** Timer functions (tests). Default `setTimeout` / `clearTimeout`. */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class FixedTimestepLoop {
  readonly periodMs: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly maxCatchUp: number;
  private origin = 0;
  /** Index of the next due slot (start + slot × period). */
  private slot = 0;
  private ticks = 0;
  private timer: unknown;
  private running = false;
  /** Ticks skipped because the loop fell more than `maxCatchUpTicks` behind. */
  skipped = 0;

  constructor(private readonly options: FixedTimestepLoopOptions) {
    if (!(options.hz > 0 && options.hz <= 1000)) throw new RangeError('hz must be in (0, 1000]');
    this.periodMs = 1000 / options.hz;
    this.now = options.now ?? (() => performance.now());
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    this.maxCatchUp = options.maxCatchUpTicks ?? 10;
  }

  /** Ticks run so far. */
  get tick(): number {
    return this.ticks;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.origin = this.now();
    this.slot = 0;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const due = this.origin + this.slot * this.periodMs;
    this.timer = this.setTimer(this.wake, Math.max(0, due - this.now()));
  }

  private readonly wake = (): void => {
    this.timer = undefined;
    let ran = 0;
    for (;;) {
      if (!this.running) return;
      const due = this.origin + this.slot * this.periodMs;
      const now = this.now();
      if (now < due) break;
      if (ran === this.maxCatchUp) {
        // Too far behind: forget the missed slots rather than run them all at once.
        const behind = Math.floor((now - this.origin) / this.periodMs) + 1 - this.slot;
        this.skipped += behind;
        this.slot += behind;
        break;
      }
      this.options.onTick({ tick: this.ticks, lateMs: now - due });
      this.ticks++;
      this.slot++;
      ran++;
    }
    if (this.running) this.schedule();
  };
}
