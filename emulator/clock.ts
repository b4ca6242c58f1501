// Simulated time: real time, optionally sped up, plus whatever the admin API has fast-forwarded.
export class Clock {
  private offsetMs = 0;
  private readonly startMs = Date.now();

  /** `speed` simulated milliseconds pass per real millisecond. */
  constructor(private readonly speed = 1) {}

  now(): number {
    const real = Date.now();
    return this.startMs + (real - this.startMs) * this.speed + this.offsetMs;
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
