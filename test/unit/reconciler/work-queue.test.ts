// Unit tests for WorkQueue: de-duplication, one in-flight per key, delays, backoff and shutdown.

import { describe, expect, it } from 'vitest';
import { realClock } from '../../../src/reconciler/clock.js';
import { WorkQueue } from '../../../src/reconciler/work-queue.js';
import { FakeClock, flush } from './fake-clock.js';

function setup(options: ConstructorParameters<typeof WorkQueue<string>>[0] = {}) {
  const clock = new FakeClock();
  const queue = new WorkQueue<string>({ clock, ...options });
  return { clock, queue };
}

/** Tracks whether a promise has settled without awaiting it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; value: () => T | undefined } {
  let settled = false;
  let value: T | undefined;
  void promise.then((v) => {
    settled = true;
    value = v;
  });
  return { settled: () => settled, value: () => value };
}

describe('WorkQueue', () => {
  it('de-duplicates a key added many times while idle', async () => {
    const { queue } = setup();
    for (let i = 0; i < 5; i++) queue.add('a');
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe('a');
    expect(queue.len()).toBe(0);
    queue.done('a');
    expect(queue.len()).toBe(0);
  });

  it('de-duplicates a burst that arrives while a worker is already waiting', async () => {
    const { queue } = setup();
    const got = queue.get();
    await flush();
    for (let i = 0; i < 5; i++) queue.add('a');
    expect(await got).toBe('a');
    queue.done('a');
    expect(queue.len()).toBe(0);
  });

  it('hands out distinct keys in FIFO order', async () => {
    const { queue } = setup();
    for (const k of ['c', 'a', 'b', 'a', 'c']) queue.add(k);
    const order: string[] = [];
    while (queue.len() > 0) order.push((await queue.get())!);
    expect(order).toEqual(['c', 'a', 'b']);
  });

  it('never hands out a key that is still processing', async () => {
    const { queue } = setup();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    expect(queue.len()).toBe(0);
    const second = track(queue.get());
    await flush();
    expect(second.settled()).toBe(false);
    queue.done('a');
    await flush();
    expect(second.value()).toBe('a');
  });

  it('re-runs a key re-added while processing exactly once', async () => {
    const { queue } = setup();
    queue.add('a');
    await queue.get();
    queue.add('a');
    queue.add('a');
    queue.add('a');
    queue.done('a');
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe('a');
    queue.done('a');
    expect(queue.len()).toBe(0);
  });

  it('get waits for work', async () => {
    const { queue } = setup();
    const got = track(queue.get());
    await flush();
    expect(got.settled()).toBe(false);
    queue.add('x');
    await flush();
    expect(got.value()).toBe('x');
  });

  it('addAfter makes the key ready only after the delay', async () => {
    const { clock, queue } = setup();
    queue.addAfter('a', 500);
    await clock.tick(499);
    expect(queue.len()).toBe(0);
    await clock.tick(1);
    expect(queue.len()).toBe(1);
  });

  it('addAfter keeps the earliest pending delay', async () => {
    const { clock, queue } = setup();
    queue.addAfter('a', 1000);
    queue.addAfter('a', 300); // earlier: replaces the 1000 ms add
    queue.addAfter('a', 2000); // later: ignored
    expect(clock.pending()).toBe(1);
    await clock.tick(300);
    expect(queue.len()).toBe(1);
    await queue.get();
    queue.done('a');
    await clock.tick(5000);
    expect(queue.len()).toBe(0);
  });

  it('addAfter with a zero delay adds immediately', () => {
    const { clock, queue } = setup();
    queue.addAfter('a', 0);
    expect(queue.len()).toBe(1);
    expect(clock.pending()).toBe(0);
  });

  it.each([
    { name: 'defaults', options: {}, expected: [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000] },
    { name: 'custom cap', options: { baseMs: 100, capMs: 1000 }, expected: [100, 200, 400, 800, 1000, 1000] },
    { name: 'custom base and factor', options: { baseMs: 50, factor: 3, capMs: 1000 }, expected: [50, 150, 450, 1000] },
  ])('backoff grows exponentially and is capped ($name)', ({ options, expected }) => {
    const { queue } = setup(options);
    const delays = expected.map(() => queue.addRateLimited('a'));
    expect(delays).toEqual(expected);
    expect(queue.failures('a')).toBe(expected.length);
    expect(queue.failures('b')).toBe(0);
  });

  it('stays at the cap after very many failures', () => {
    const { queue } = setup();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = queue.addRateLimited('a');
    expect(last).toBe(30_000);
  });

  it('addRateLimited makes the key ready after its backoff delay', async () => {
    const { clock, queue } = setup();
    queue.addRateLimited('a');
    await clock.tick(99);
    expect(queue.len()).toBe(0);
    await clock.tick(1);
    expect(queue.len()).toBe(1);
  });

  it('forget resets the backoff of one key only', () => {
    const { queue } = setup();
    for (let i = 0; i < 3; i++) {
      queue.addRateLimited('a');
      queue.addRateLimited('b');
    }
    queue.forget('a');
    expect(queue.failures('a')).toBe(0);
    expect(queue.addRateLimited('a')).toBe(100);
    expect(queue.addRateLimited('b')).toBe(800);
  });

  it('jitter only shortens a delay', () => {
    const { queue } = setup({ jitter: 0.2, random: () => 0.5, capMs: 1000 });
    expect(queue.addRateLimited('a')).toBeCloseTo(90);
    for (let i = 0; i < 10; i++) queue.addRateLimited('a');
    expect(queue.addRateLimited('a')).toBeCloseTo(900);
  });

  it('rejects nonsensical backoff options', () => {
    expect(() => new WorkQueue({ baseMs: 0 })).toThrow(RangeError);
    expect(() => new WorkQueue({ baseMs: 100, capMs: 50 })).toThrow(RangeError);
  });

  it('get resolves undefined after shutdown, for waiting and new callers, even with keys pending', async () => {
    const { clock, queue } = setup();
    const waiting = queue.get();
    await flush();
    queue.addAfter('later', 100);
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add('a');
    expect(await queue.get()).toBeUndefined();
    expect(clock.pending()).toBe(0); // delayed adds are dropped
  });

  it('shutDownWithDrain waits for in-flight keys', async () => {
    const { queue } = setup();
    queue.add('a');
    await queue.get();
    const drained = track(queue.shutDownWithDrain(1000));
    await flush();
    expect(drained.settled()).toBe(false);
    queue.done('a');
    await flush();
    expect(drained.value()).toBe(true);
  });

  it('shutDownWithDrain gives up at the deadline', async () => {
    const { clock, queue } = setup();
    queue.add('a');
    await queue.get();
    const drained = track(queue.shutDownWithDrain(1000));
    await clock.tick(999);
    expect(drained.settled()).toBe(false);
    await clock.tick(1);
    expect(drained.value()).toBe(false);
  });

  it('shutDownWithDrain resolves at once when nothing is in flight', async () => {
    const { queue } = setup();
    queue.add('a'); // pending, not in flight
    expect(await queue.shutDownWithDrain(1000)).toBe(true);
  });

  it('the default clock unrefs its timers so retries never hold the process open', () => {
    const handle = realClock.setTimeout(() => {}, 60_000) as NodeJS.Timeout;
    try {
      expect(handle.hasRef()).toBe(false);
    } finally {
      realClock.clearTimeout(handle);
    }
  });
});
