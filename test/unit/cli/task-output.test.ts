import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../../src/cli/client/task-output.js';

describe('exitCodeOf', () => {
  it.each([
    [{ code: 0, signal: null }, 0, undefined],
    [{ code: 42, signal: null }, 42, undefined],
    [{ code: 127, signal: null }, 127, undefined],
    [{ code: null, signal: 'SIGKILL' }, 137, undefined],
    [{ code: null, signal: 'SIGTERM', reason: 'Cancelled' }, 130, undefined],
    [{ code: 137, signal: 'SIGKILL', reason: 'OOMKilled', message: 'killed: out of memory (limit 64 MiB)' }, 137, 'killed: out of memory (limit 64 MiB)'],
    [{ code: null, signal: null, reason: 'NoBackend', message: 'no backend can run on this host' }, 125, 'no backend can run on this host'],
    [{ code: null, signal: null, reason: 'MachineLost', message: 'machine connection lost' }, 255, 'machine connection lost'],
  ])('%j → %i', (exit, code, message) => {
    expect(exitCodeOf(exit)).toEqual(message ? { code, message } : { code });
  });
});
