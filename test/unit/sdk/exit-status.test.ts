import { describe, expect, it } from 'vitest';
import { exitStatusOf } from '../../../src/sdk/execution.js';

describe('exitStatusOf', () => {
  it.each([
    [{ code: 0, signal: null }, 0, undefined],
    [{ code: 42, signal: null }, 42, undefined],
    [{ code: 127, signal: null }, 127, undefined],
    [{ code: null, signal: 'SIGKILL' }, 137, undefined],
    [{ code: null, signal: 'SIGTERM', reason: 'Cancelled', message: 'task was cancelled' }, 130, undefined],
    [{ code: 137, signal: 'SIGKILL', reason: 'OOMKilled', message: 'killed: out of memory (limit 64 MiB)' }, 137, 'killed: out of memory (limit 64 MiB)'],
    [{ code: null, signal: null, reason: 'NoBackend', message: 'no backend can run on this host' }, 125, 'no backend can run on this host'],
    [{ code: null, signal: null }, 125, 'the task failed before its command started'],
    [{ code: null, signal: null, reason: 'MachineLost', message: 'machine connection lost' }, 255, 'machine connection lost'],
    [{ code: -1, signal: null, reason: 'InstanceStopped', message: 'instance stopped' }, 255, 'instance stopped'],
  ])('%j → %i', (exit, exitCode, message) => {
    const status = exitStatusOf(exit);
    expect(status.exitCode).toBe(exitCode);
    expect(status.message).toBe(message);
  });
});
