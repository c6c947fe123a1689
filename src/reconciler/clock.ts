// The time source the reconciler reads and schedules with, injectable so queue and controller tests run on a fake clock.

/** Opaque handle returned by `Clock.setTimeout`; only ever passed back to `Clock.clearTimeout`. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since an arbitrary epoch; only differences are meaningful. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Wall-clock timers. Every timer is unref'd: a pending retry or resync must never keep the daemon
 * alive on its own — shutdown is decided by the daemon, not by the queue.
 */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
