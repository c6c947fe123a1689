// WorkQueue: keyed, de-duplicating work queue with delayed adds and per-key exponential backoff.

import { realClock, type Clock, type TimerHandle } from './clock.js';

export interface BackoffOptions {
  /** Delay of the first retry. Default 100 ms. */
  baseMs?: number;
  /** Upper bound of any retry delay. Default 30 s. */
  capMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /**
   * Fraction (0..1) of each delay taken off at random, so many keys failing together do not retry in
   * lock-step. Default 0 (deterministic); jitter only shortens, so the cap still holds.
   */
  jitter?: number;
}

export interface WorkQueueOptions extends BackoffOptions {
  clock?: Clock;
  /** Random source for jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
}

interface Delayed {
  at: number;
  handle: TimerHandle;
}

/**
 * Hands out keys to workers so that no key is processed by two workers at once.
 *
 * - `dirty` holds keys that need processing; adding a dirty key again is a no-op (level-triggered:
 *   one reconcile observes every change that happened before it started).
 * - `processing` holds keys handed out and not yet `done`. A key added while processing stays dirty
 *   but is not queued; `done` queues it, so it runs exactly once more.
 * - `queue` is the FIFO of keys that are dirty and not processing.
 *
 * Keys must not be `undefined` (that value means "shut down" from `get`).
 */
export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly delayed = new Map<K, Delayed>();
  private readonly failureCounts = new Map<K, number>();
  private waiters: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];
  private shuttingDown = false;

  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.baseMs = options.baseMs ?? 100;
    this.capMs = options.capMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(Math.max(options.jitter ?? 0, 0), 1);
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs) || !(this.factor >= 1)) {
      throw new RangeError(
        `invalid backoff: baseMs=${this.baseMs} capMs=${this.capMs} factor=${this.factor}`,
      );
    }
  }

  /** Marks `key` as needing work. No-op if it is already pending or after shutdown. */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // A key in flight is re-queued by `done`, never handed to a second worker.
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.wakeOne();
  }

  /**
   * Adds `key` after `ms`. If a delayed add for the key is already pending, the earlier one wins, so
   * a short poll is never pushed back by a later, longer request.
   */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      this.clock.clearTimeout(pending.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /**
   * Adds `key` after its backoff delay (base * factor^failures, capped) and counts one more failure.
   * Returns the delay used, for logging.
   */
  addRateLimited(key: K): number {
    const failures = this.failureCounts.get(key) ?? 0;
    this.failureCounts.set(key, failures + 1);
    // Computed in floating point: factor^n overflows to Infinity long before it matters, and min() caps it.
    let delay = Math.min(this.capMs, this.baseMs * Math.pow(this.factor, failures));
    if (this.jitter > 0) delay -= delay * this.jitter * this.random();
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the failure count of `key`, so its next backoff starts at `baseMs` again. */
  forget(key: K): void {
    this.failureCounts.delete(key);
  }

  /** Consecutive `addRateLimited` calls for `key` since the last `forget`. */
  failures(key: K): number {
    return this.failureCounts.get(key) ?? 0;
  }

  /**
   * Waits for a key and marks it processing; the caller must call `done(key)` afterwards.
   * Resolves `undefined` once the queue is shut down, even if keys are still pending: a level-triggered
   * controller recovers them with its startup resync.
   */
  async get(): Promise<K | undefined> {
    for (;;) {
      if (this.shuttingDown) return undefined;
      const key = this.queue.shift();
      if (key !== undefined) {
        this.dirty.delete(key);
        this.processing.add(key);
        return key;
      }
      // Woken by add/done; another taker may have won the key meanwhile, hence the loop.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Ends processing of `key`; if it was re-added meanwhile, queues it again. */
  done(key: K): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key) && !this.shuttingDown) {
      this.queue.push(key);
      this.wakeOne();
    }
    if (this.processing.size === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Number of keys ready to be handed out (not counting in-flight or delayed keys). */
  len(): number {
    return this.queue.length;
  }

  /** Stops handing out keys, drops pending delayed adds and wakes every waiting `get` with `undefined`. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Shuts down, then waits until every in-flight key is `done` or `deadlineMs` passes.
   * Resolves true if everything drained, false on the deadline (a hung reconcile must not block exit).
   */
  shutDownWithDrain(deadlineMs: number): Promise<boolean> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const onDrained = (): void => {
        this.clock.clearTimeout(timer);
        resolve(true);
      };
      const timer = this.clock.setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== onDrained);
        resolve(false);
      }, Math.max(0, deadlineMs));
      this.drainWaiters.push(onDrained);
    });
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }
}
