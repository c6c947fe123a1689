// Unit tests for conditions.ts: lastTransitionTime moves only on a status flip, inputs are never mutated, readiness.
import { describe, expect, it } from 'vitest';
import { conditionSchema, getCondition, isReady, setCondition, type Condition } from '../../../src/resources/conditions.js';

const T0 = '2030-01-01T00:00:00.000Z';
const T1 = '2030-01-01T00:05:00.000Z';

const ready = (status: Condition['status'], reason: string, at = T0): Condition => ({
  type: 'Ready',
  status,
  reason,
  message: `${reason}.`,
  lastTransitionTime: at,
});

describe('setCondition', () => {
  it.each([
    // [description, before status, after status, expected lastTransitionTime]
    ['False → True moves the time', 'False', 'True', T1],
    ['True → False moves the time', 'True', 'False', T1],
    ['Unknown → True moves the time', 'Unknown', 'True', T1],
    ['True → True keeps the time', 'True', 'True', T0],
    ['False → False keeps the time', 'False', 'False', T0],
  ] as const)('%s', (_d, before, after, want) => {
    const out = setCondition([ready(before, 'Old')], { type: 'Ready', status: after, reason: 'New', message: 'New.' }, new Date(T1));
    expect(out).toEqual([{ type: 'Ready', status: after, reason: 'New', message: 'New.', lastTransitionTime: want }]);
  });

  it('appends a new type with now as its transition time, keeping the others in place', () => {
    const before = [ready('True', 'Up')];
    const out = setCondition(before, { type: 'ImagePulled', status: 'False', reason: 'PullFailed', message: 'no such image' }, T1);
    expect(out.map((c) => c.type)).toEqual(['Ready', 'ImagePulled']);
    expect(out[1].lastTransitionTime).toBe(T1);
    expect(out[0]).toEqual(before[0]);
  });

  it('returns a new array and leaves the input untouched', () => {
    const before = [ready('False', 'Booting')];
    const snapshot = structuredClone(before);
    const out = setCondition(before, { type: 'Ready', status: 'True', reason: 'Running', message: 'Up.' }, T1);
    expect(out).not.toBe(before);
    expect(before).toEqual(snapshot);
  });

  it('stores only the condition fields', () => {
    const extra = { type: 'Ready', status: 'True', reason: 'Up', message: 'm', secret: 'x' } as unknown as Parameters<typeof setCondition>[1];
    const out = setCondition([], extra, T0);
    expect(Object.keys(out[0]).sort()).toEqual(['lastTransitionTime', 'message', 'reason', 'status', 'type']);
    expect(conditionSchema.safeParse(out[0]).success).toBe(true);
  });
});

describe('readers', () => {
  it('getCondition finds by type', () => {
    expect(getCondition([ready('True', 'Up')], 'Ready')?.reason).toBe('Up');
    expect(getCondition([ready('True', 'Up')], 'ImagePulled')).toBeUndefined();
    expect(getCondition(undefined, 'Ready')).toBeUndefined();
  });

  it.each([
    ['no status', undefined, undefined, false],
    ['no conditions', [], undefined, false],
    ['Ready=True', [ready('True', 'Up')], undefined, true],
    ['Ready=False', [ready('False', 'Down')], undefined, false],
    ['Ready=Unknown', [ready('Unknown', 'Pending')], undefined, false],
    ['status object, current generation', { observedGeneration: 3, conditions: [ready('True', 'Up')] }, 3, true],
    ['status object, stale generation', { observedGeneration: 2, conditions: [ready('True', 'Up')] }, 3, false],
    ['status object, no generation asked', { observedGeneration: 2, conditions: [ready('True', 'Up')] }, undefined, true],
  ] as const)('isReady: %s', (_d, source, generation, want) => {
    expect(isReady(source as Parameters<typeof isReady>[0], generation)).toBe(want);
  });
});
