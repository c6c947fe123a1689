// Unit tests for Controller: worker concurrency, result handling, backoff, resyncs and stop, on a fake clock.

import { describe, expect, it } from 'vitest';
import { Controller, type ControllerOptions, type ReconcileContext } from '../../../src/reconciler/controller.js';
import { TerminalError } from '../../../src/errors/terminal-error.js';
import { FakeClock, deferred, flush } from './fake-clock.js';

interface ErrorReport {
  key: string;
  err: unknown;
  terminal: boolean;
}

/** A controller on a fake clock that records each reconcile's key and time and every reported error. */
function setup(
  reconcile: (key: string, ctx: ReconcileContext, run: number) => ReturnType<ControllerOptions<string>['reconcile']>,
  options: Partial<ControllerOptions<string>> = {},
) {
  const clock = new FakeClock();
  const runs: Array<{ key: string; at: number }> = [];
  const errors: ErrorReport[] = [];
  const controller = new Controller<string>({
    name: 'test',
    clock,
    onError: (key, err, terminal) => errors.push({ key, err, terminal }),
    onResyncError: (err) => errors.push({ key: '<resync>', err, terminal: false }),
    reconcile: (key, ctx) => {
      runs.push({ key, at: clock.now() });
      return reconcile(key, ctx, runs.filter((r) => r.key === key).length);
    },
    ...options,
  });
  const timesOf = (key: string) => runs.filter((r) => r.key === key).map((r) => r.at);
  return { clock, controller, runs, errors, timesOf };
}

const ok = async () => {};

describe('Controller', () => {
  it('reconciles a key added five times while idle once', async () => {
    const { controller, runs } = setup(ok);
    controller.start();
    await flush();
    for (let i = 0; i < 5; i++) controller.enqueue('a');
    await flush();
    expect(runs).toHaveLength(1);
  });

  it('holds keys enqueued before start and de-duplicates them', async () => {
    const { controller, runs } = setup(ok);
    for (let i = 0; i < 5; i++) controller.enqueue('a');
    await flush();
    expect(runs).toHaveLength(0);
    controller.start();
    await flush();
    expect(runs).toHaveLength(1);
  });

  it('keeps one reconcile in flight per key under 4 workers, while distinct keys run in parallel', async () => {
    const inFlight = new Map<string, number>();
    const maxPerKey = new Map<string, number>();
    let total = 0;
    let maxTotal = 0;
    const clock = new FakeClock();
    const controller = new Controller<string>({
      name: 'test',
      clock,
      workers: 4,
      onError: () => {},
      reconcile: async (key) => {
        const n = (inFlight.get(key) ?? 0) + 1;
        inFlight.set(key, n);
        maxPerKey.set(key, Math.max(maxPerKey.get(key) ?? 0, n));
        maxTotal = Math.max(maxTotal, ++total);
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
        inFlight.set(key, (inFlight.get(key) ?? 0) - 1);
        total--;
      },
    });
    controller.start();
    for (let i = 0; i < 20; i++) {
      for (const key of ['a', 'b', 'c']) controller.enqueue(key);
      await clock.tick(3);
    }
    await clock.tick(100);
    expect([...maxPerKey.values()]).toEqual([1, 1, 1]);
    expect(maxTotal).toBe(3);
    expect(total).toBe(0);
  });

  it('re-runs a key re-added during its reconcile exactly once', async () => {
    const gate = deferred();
    const { controller, runs } = setup(async (_key, _ctx, run) => {
      if (run === 1) await gate.promise;
    });
    controller.start();
    controller.enqueue('a');
    await flush();
    expect(runs).toHaveLength(1);
    controller.enqueue('a');
    controller.enqueue('a');
    controller.enqueue('a');
    await flush();
    expect(runs).toHaveLength(1);
    gate.resolve();
    await flush();
    expect(runs).toHaveLength(2);
  });

  it('reconciles distinct keys in FIFO order', async () => {
    const { controller, runs } = setup(ok);
    for (const key of ['x', 'b', 'm', 'a']) controller.enqueue(key);
    controller.start();
    await flush();
    expect(runs.map((r) => r.key)).toEqual(['x', 'b', 'm', 'a']);
  });

  it('retries a failing key with backoff 100/200/400… up to the cap', async () => {
    const { clock, controller, timesOf, errors } = setup(
      async () => {
        throw new Error('boom');
      },
      { backoff: { capMs: 1000 } },
    );
    controller.start();
    controller.enqueue('a');
    await clock.tick(5000);
    // gaps: 100, 200, 400, 800, then capped at 1000
    expect(timesOf('a')).toEqual([0, 100, 300, 700, 1500, 2500, 3500, 4500]);
    expect(errors.every((e) => e.key === 'a' && !e.terminal && (e.err as Error).message === 'boom')).toBe(true);
    expect(errors).toHaveLength(8);
  });

  it('resets the backoff after a success', async () => {
    let fail = true;
    const failuresSeen: number[] = [];
    const { clock, controller, timesOf } = setup(async (_key, ctx) => {
      failuresSeen.push(ctx.failures);
      if (fail) throw new Error('boom');
    });
    controller.start();
    controller.enqueue('a');
    await clock.tick(299); // runs at 0 and 100 fail; the next is due at 300
    fail = false;
    await clock.tick(1001); // run at 300 succeeds
    expect(timesOf('a')).toEqual([0, 100, 300]);
    fail = true;
    controller.enqueue('a'); // at 1300: fails, and the retry must come 100 ms later, not 400
    await clock.tick(150);
    expect(timesOf('a')).toEqual([0, 100, 300, 1300, 1400]);
    expect(failuresSeen).toEqual([0, 1, 2, 0, 1]);
  });

  it('reports a TerminalError once and does not retry it', async () => {
    const { clock, controller, runs, errors } = setup(async () => {
      throw new TerminalError('image example/missing not found', { reason: 'MissingImage' });
    });
    controller.start();
    controller.enqueue('a');
    await clock.tick(60_000);
    expect(runs).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0].key).toBe('a');
    expect(errors[0].terminal).toBe(true);
    expect(errors[0].err).toBeInstanceOf(TerminalError);
    expect((errors[0].err as TerminalError).reason).toBe('MissingImage');
  });

  it('a TerminalError clears earlier failures, so a later retryable error starts from the base delay', async () => {
    let mode: 'retry' | 'terminal' = 'retry';
    const { clock, controller, timesOf } = setup(async () => {
      if (mode === 'terminal') throw new TerminalError('bad spec');
      throw new Error('boom');
    });
    controller.start();
    controller.enqueue('a');
    await clock.tick(299); // fails at 0 and 100; next at 300
    mode = 'terminal';
    await clock.tick(1); // terminal at 300
    mode = 'retry';
    await clock.tick(1000);
    controller.enqueue('a'); // at 1300
    await clock.tick(100);
    expect(timesOf('a')).toEqual([0, 100, 300, 1300, 1400]);
  });

  it('re-runs a key requeueAfterMs after a successful reconcile', async () => {
    const { clock, controller, runs } = setup(async (_key, _ctx, run) => (run === 1 ? { requeueAfterMs: 5000 } : {}));
    controller.start();
    controller.enqueue('a');
    await clock.tick(4999);
    expect(runs).toHaveLength(1);
    await clock.tick(1);
    expect(runs).toHaveLength(2);
    await clock.tick(60_000);
    expect(runs).toHaveLength(2);
  });

  it('runs a startup resync of every listKeys key once, without a period', async () => {
    let listed = 0;
    const { clock, controller, runs } = setup(ok, {
      listKeys: () => {
        listed++;
        return ['a', 'b'];
      },
    });
    controller.start();
    await flush();
    expect(runs.map((r) => r.key).sort()).toEqual(['a', 'b']);
    await clock.tick(3_600_000);
    expect(listed).toBe(1);
    expect(runs).toHaveLength(2);
  });

  it('re-enqueues every listKeys key on each periodic resync', async () => {
    let keys = ['a', 'b'];
    const { clock, controller, timesOf } = setup(ok, { resyncMs: 10_000, listKeys: async () => keys });
    controller.start();
    await flush();
    await clock.tick(10_000);
    keys = ['a', 'b', 'c'];
    await clock.tick(10_000);
    expect(timesOf('a')).toEqual([0, 10_000, 20_000]);
    expect(timesOf('b')).toEqual([0, 10_000, 20_000]);
    expect(timesOf('c')).toEqual([20_000]);
  });

  it('keeps resyncing after listKeys fails once', async () => {
    let calls = 0;
    const { clock, controller, runs, errors } = setup(ok, {
      resyncMs: 1000,
      listKeys: () => {
        if (++calls === 1) throw new Error('store busy');
        return ['a'];
      },
    });
    controller.start();
    await flush();
    expect(errors.map((e) => (e.err as Error).message)).toEqual(['store busy']);
    await clock.tick(1000);
    expect(runs.map((r) => r.key)).toEqual(['a']);
  });

  it('survives an onError hook that throws', async () => {
    const { clock, controller, runs } = setup(
      async (_key, _ctx, run) => {
        if (run === 1) throw new Error('boom');
      },
      {
        onError: () => {
          throw new Error('hook bug');
        },
      },
    );
    controller.start();
    controller.enqueue('a');
    await clock.tick(100);
    controller.enqueue('b');
    await flush();
    expect(runs.map((r) => r.key)).toEqual(['a', 'a', 'b']);
  });

  it('stop fires the abort signal, waits for in-flight work and then takes no more', async () => {
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const { controller, runs } = setup(async (_key, ctx) => {
      signal = ctx.signal;
      await gate.promise;
    });
    controller.start();
    controller.enqueue('a');
    controller.enqueue('b');
    await flush();
    let result: boolean | undefined;
    void controller.stop(5000).then((r) => (result = r));
    await flush();
    expect(signal?.aborted).toBe(true);
    expect(result).toBeUndefined();
    gate.resolve();
    await flush();
    expect(result).toBe(true);
    controller.enqueue('c');
    await flush();
    expect(runs.map((r) => r.key)).toEqual(['a']); // b was pending, c came after stop
  });

  it('stop resolves false at the deadline when a reconcile hangs', async () => {
    const { clock, controller } = setup(() => new Promise<void>(() => {}));
    controller.start();
    controller.enqueue('a');
    await flush();
    let result: boolean | undefined;
    void controller.stop(1000).then((r) => (result = r));
    await clock.tick(999);
    expect(result).toBeUndefined();
    await clock.tick(1);
    expect(result).toBe(false);
  });

  it('stop cancels pending retries, requeues and resyncs', async () => {
    const { clock, controller, runs } = setup(
      async (key) => {
        if (key === 'fail') throw new Error('boom');
        return { requeueAfterMs: 500 };
      },
      { resyncMs: 1000, listKeys: () => ['fail', 'poll'] },
    );
    controller.start();
    await flush();
    expect(runs).toHaveLength(2);
    expect(await controller.stop(1000)).toBe(true);
    expect(clock.pending()).toBe(0);
    await clock.tick(10_000);
    expect(runs).toHaveLength(2);
  });

  it('starts only once and rejects a bad worker count', () => {
    const { controller } = setup(ok);
    controller.start();
    expect(() => controller.start()).toThrow(/already running/);
    expect(() => new Controller({ name: 'x', reconcile: ok, workers: 0 })).toThrow(RangeError);
  });
});
