// Injectable clock. Decision code takes `now` as data; code that must wait (loops, timeouts) takes a Clock so
// tests can advance time instead of sleeping.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to. For tests. */
export class FakeClock implements Clock {
  private current: number;
  constructor(start: Date | string = "2026-01-05T10:00:00Z") {
    this.current = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
