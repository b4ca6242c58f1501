// Simulated time: real time, optionally sped up, plus whatever the admin API has fast-forwarded.
// Every timestamp the emulator writes and every response's Date header come from here.
export class Clock {
  private offsetMs = 0;
  private readonly startMs = Date.now();
  /** Set while a simulated event runs (at()): the time it happens. */
  private pinnedMs?: number;
  /** The latest time handed out outside an event: what clients may already have seen. */
  private readMs = -Infinity;

  /** `speed` simulated milliseconds pass per real millisecond. */
  constructor(private readonly speed = 1) {}

  /** The simulated time; inside at(), the time of the event that runs. */
  now(): number {
    if (this.pinnedMs !== undefined) return this.pinnedMs;
    const t = this.peek();
    if (t > this.readMs) this.readMs = t;
    return t;
  }

  /** The simulated time as the simulation compares due times with it (neither pinned nor counted as read). */
  peek(): number {
    const real = Date.now();
    return this.startMs + (real - this.startMs) * this.speed + this.offsetMs;
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** RFC 7231 IMF-fixdate of now(), for the HTTP Date header. */
  httpDate(): string {
    return new Date(this.now()).toUTCString();
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /**
   * Runs `fn` as of `ms`, the simulated time an event fell due (a device step that an advance
   * or a late tick runs now), so what it records carries that time; never earlier than a time
   * already handed out, so no client sees a change appear in its past.
   */
  at<T>(ms: number, fn: () => T): T {
    const outer = this.pinnedMs;
    this.pinnedMs = Math.max(ms, this.readMs, outer ?? -Infinity);
    try {
      return fn();
    } finally {
      this.pinnedMs = outer;
    }
  }
}
