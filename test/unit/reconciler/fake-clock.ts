// FakeClock: a deterministic Clock for reconciler tests — time moves only when a test calls tick().

import type { Clock, TimerHandle } from '../../../src/reconciler/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** Lets every pending promise continuation run (setImmediate fires after the microtask queue empties). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private time = 0;
  private nextId = 1;
  private timers: Timer[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.time + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Pending timers, to assert that nothing is left scheduled. */
  pending(): number {
    return this.timers.length;
  }

  /**
   * Advances time by `ms`, firing due timers in time order (ties in creation order) and flushing
   * promise continuations after each, so work a timer triggers runs before the next timer fires.
   */
  async tick(ms: number): Promise<void> {
    const target = this.time + ms;
    await flush();
    for (;;) {
      const due = this.timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
      await flush();
    }
    this.time = target;
  }
}

/** A promise with its resolve exposed, to hold a reconcile in flight until the test releases it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
