// The idle policy as a table: what an instance in each situation does at a given time, and when it is looked at again.
import { describe, expect, it } from 'vitest';
import { CPU_WINDOW_MS, idleDecision, type IdleFacts } from '../../../src/lifecycle/idle-policy.js';

const idle = { pauseAfterMs: 10_000, stopAfterMs: 60_000 };
const facts = (over: Partial<IdleFacts>): IdleFacts => ({ state: 'running', active: false, lastActiveAt: 0, pausedAt: 0, idle, canPause: true, backend: 'sandbox', ...over });

describe('idleDecision', () => {
  it.each([
    ['running, idle: back once for the CPU window, then when the pause is due', facts({}), 0, { do: 'wait', checkInMs: 10_000 - CPU_WINDOW_MS }],
    ['running, inside the CPU window', facts({}), 9_700, { do: 'wait', checkInMs: 300 }],
    ['running, idle for pauseAfter: pause', facts({}), 10_000, { do: 'pause', message: 'paused after 10 s without traffic' }],
    ['running, active since: nothing due', facts({ lastActiveAt: 5_000 }), 10_000, { do: 'wait', checkInMs: 5_000 - CPU_WINDOW_MS }],
    ['running with a connection, an exec or a log reader: only an event changes anything', facts({ active: true }), 1_000_000, { do: 'wait' }],
    ['paused: back when the stop is due', facts({ state: 'paused', pausedAt: 20_000 }), 30_000, { do: 'wait', checkInMs: 50_000 }],
    ['paused for stopAfter: stop, saving its memory where the backend can', facts({ state: 'paused', pausedAt: 20_000 }), 80_000, { do: 'stop', suspend: true, message: 'stopped after 60 s paused' }],
    ['paused but woken by a connection: nothing', facts({ state: 'paused', active: true }), 1_000_000, { do: 'wait' }],
    ['a backend that cannot pause runs on for pauseAfter + stopAfter', facts({ canPause: false, backend: 'libkrun' }), 60_000, { do: 'wait', checkInMs: 10_000 - CPU_WINDOW_MS }],
    ['…then stops it without a snapshot', facts({ canPause: false, backend: 'libkrun' }), 70_000, { do: 'stop', suspend: false, message: 'stopped after 70 s without traffic (the libkrun backend cannot pause)' }],
    ['starting: nothing to be idle yet', facts({ state: 'starting' }), 1_000_000, { do: 'wait' }],
    ['stopped: stays so until a request', facts({ state: 'stopped' }), 1_000_000, { do: 'wait' }],
    ['failed: the back-off is not the idle policy’s', facts({ state: 'failed' }), 1_000_000, { do: 'wait' }],
  ] as const)('%s', (_what, f, now, expected) => {
    expect(idleDecision(f, now)).toEqual(expected);
  });

  it('a short pauseAfter is one look, at the pause', () => {
    expect(idleDecision(facts({ idle: { pauseAfterMs: 300, stopAfterMs: 1_000 } }), 0)).toEqual({ do: 'wait', checkInMs: 300 });
  });
});
