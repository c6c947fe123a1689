// Crash-loop back-off for an instance's server: a server that dies soon after its boot (or a boot that
// fails) waits before the next start, doubling each time up to a cap; one that ran a while starts over.
// A value of the clock handed in, so its rules are tested without waiting.

/** A server that exits sooner than this after its boot counts as crashing: the next boot waits. */
export const QUICK_EXIT_MS = 10_000;
export const FIRST_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 60_000;

/** The wait after `failures` crashes in a row (none after none). */
export const backoffMs = (failures: number): number => (failures <= 0 ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1)));

export class CrashBackoff {
  private failures = 0;
  private until = 0;

  /** A failed boot, a server lost right after its boot, a machine lost: the next start waits longer. */
  crashed(now: number): void {
    this.failures++;
    this.until = now + backoffMs(this.failures);
  }

  /** A server ended after `ranMs`: a crash when that was quick, else the count starts over. */
  exited(ranMs: number, now: number): void {
    if (ranMs < QUICK_EXIT_MS) this.crashed(now);
    else this.failures = 0;
  }

  /** How long the next start must still wait (0: it may start now). */
  waitMs(now: number): number {
    return Math.max(0, this.until - now);
  }
}
