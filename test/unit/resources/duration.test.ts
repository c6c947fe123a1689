// Unit tests for duration.ts: accepted forms, their millisecond values, and rejection of everything else.
import { describe, expect, it } from 'vitest';
import { durationSchema, parseDuration, tryParseDuration } from '../../../src/resources/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['0s', 0],
    ['60s', 60_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1m500ms', 60_500],
    ['90s', 90_000],
  ])('%s = %d ms', (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
    expect(durationSchema.safeParse(s).success).toBe(true);
  });

  it.each(['', '5', 'm', '5 m', '-5s', '1.5s', '5sec', '5M', 's5', '1h 30m', '99999999999999999999d'])('rejects %j', (s) => {
    expect(tryParseDuration(s)).toBeUndefined();
    expect(() => parseDuration(s)).toThrow(/invalid duration .*500ms, 60s, 5m/);
    expect(durationSchema.safeParse(s).success).toBe(false);
  });
});
