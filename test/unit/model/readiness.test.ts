// The shared readiness check: a status counts only for the generation it observed; then Ready (and Serving for
// an app with serve: true) must be True; a False condition is a failure unless its controller retries it.
import { describe, expect, it } from 'vitest';
import { readiness, servedInstance, type ReadinessSubject } from '../../../src/model/readiness.js';
import type { Condition } from '../../../src/resources/conditions.js';

const at = '2026-01-01T00:00:00.000Z';
const cond = (type: string, status: Condition['status'], reason = 'Why', message = ''): Condition => ({ type, status, reason, message, lastTransitionTime: at });
const subject = (kind: ReadinessSubject['kind'], generation: number, status: ReadinessSubject['status'], spec: ReadinessSubject['spec'] = {}): ReadinessSubject => ({ kind, metadata: { generation }, spec, status });

describe('readiness', () => {
  it('does not take the previous generation’s Ready for the one just written', () => {
    const app = subject('App', 2, { observedGeneration: 1, conditions: [cond('Ready', 'True')] });
    expect(readiness(app)).toEqual({ state: 'waiting', why: 'generation 2 is not reconciled yet (observed: 1)' });
    expect(readiness(app, 1)).toEqual({ state: 'ready' });
    // The generation apply wrote, not the one there now: an object written since is waited for as written.
    expect(readiness({ ...app, status: { ...app.status, observedGeneration: 2 } }, 1).state).toBe('waiting');
    expect(readiness(subject('Instance', 1, {})).state).toBe('waiting');
  });

  it('needs Ready True, and Serving True for an app that asks to be served', () => {
    expect(readiness(subject('Release', 1, { observedGeneration: 1, conditions: [cond('Ready', 'Unknown', 'Pulling')] }))).toEqual({ state: 'waiting', why: 'Ready Unknown: Pulling' });
    const served = (serving?: Condition) => subject('App', 3, { observedGeneration: 3, conditions: [cond('Ready', 'True'), ...(serving ? [serving] : [])], instance: 'web' }, { serve: true });
    expect(readiness(served())).toEqual({ state: 'waiting', why: 'no Serving condition yet' });
    expect(readiness(served(cond('Serving', 'Unknown', 'ReleasePending', 'release rel-1 is Pulling')))).toEqual({ state: 'waiting', why: 'Serving Unknown: ReleasePending (release rel-1 is Pulling)' });
    expect(readiness(served(cond('Serving', 'True')))).toEqual({ state: 'ready' });
    expect(servedInstance(served(cond('Serving', 'True')))).toBe('web');
    expect(servedInstance(served(cond('Serving', 'Unknown')))).toBeUndefined();
    // serve: false needs no Serving condition.
    expect(readiness(subject('App', 1, { observedGeneration: 1, conditions: [cond('Ready', 'True')] }, { serve: false }))).toEqual({ state: 'ready' });
  });

  it('fails on a False condition, except a boot its controller tries again', () => {
    expect(readiness(subject('App', 1, { observedGeneration: 1, conditions: [cond('Ready', 'True'), cond('Serving', 'False', 'NoPorts', 'nothing to serve')] }, { serve: true }))).toEqual({
      state: 'failed',
      why: 'Serving False: NoPorts (nothing to serve)',
    });
    expect(readiness(subject('Instance', 1, { observedGeneration: 1, conditions: [cond('Ready', 'False', 'InvalidPlan', 'app "x" has no command')] })).state).toBe('failed');
    expect(readiness(subject('Instance', 1, { observedGeneration: 1, conditions: [cond('Ready', 'False', 'StartFailed', 'release is Pulling')] })).state).toBe('waiting');
  });

  it('counts kinds no controller reports on as ready once stored', () => {
    expect(readiness(subject('Secret', 4, {}))).toEqual({ state: 'ready' });
    expect(readiness(subject('Kit', 1, {}))).toEqual({ state: 'ready' });
  });
});
