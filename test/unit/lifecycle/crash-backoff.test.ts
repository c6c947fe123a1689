// Crash-loop back-off on a clock the test holds: doubling waits with a cap, and a server that ran a while starts over.
import { describe, expect, it } from 'vitest';
import { backoffMs, CrashBackoff, MAX_BACKOFF_MS, QUICK_EXIT_MS } from '../../../src/lifecycle/crash-backoff.js';

describe('crash back-off', () => {
  it('doubles from one second up to the cap', () => {
    expect([0, 1, 2, 3, 4, 6, 7, 20].map(backoffMs)).toEqual([0, 1_000, 2_000, 4_000, 8_000, 32_000, MAX_BACKOFF_MS, MAX_BACKOFF_MS]);
  });

  it('makes the next start wait after each crash, counting down on the clock', () => {
    const b = new CrashBackoff();
    expect(b.waitMs(0)).toBe(0);
    b.crashed(100);
    expect(b.waitMs(100)).toBe(1_000);
    expect(b.waitMs(600)).toBe(500);
    expect(b.waitMs(1_100)).toBe(0);
    b.crashed(5_000);
    expect(b.waitMs(5_000)).toBe(2_000);
  });

  it('counts a quick exit as a crash and forgets the crashes of a server that ran a while', () => {
    const b = new CrashBackoff();
    b.exited(QUICK_EXIT_MS - 1, 0);
    b.exited(50, 10_000);
    expect(b.waitMs(10_000)).toBe(2_000);
    b.exited(QUICK_EXIT_MS, 20_000);
    expect(b.waitMs(20_000)).toBe(0);
    b.crashed(30_000);
    expect(b.waitMs(30_000)).toBe(1_000);
  });
});
