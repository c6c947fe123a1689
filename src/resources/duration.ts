// Duration strings used by policies (`500ms`, `60s`, `5m`, `1h30m`): parsing to milliseconds and the zod field.
import { z } from 'zod';
import { invalid } from '../errors/codes.js';
import { quoteInput } from '../util/quote-input.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

// One or more <integer><unit> groups, largest unit first is not enforced (`90s` and `1m30s` both read naturally).
export const DURATION_PATTERN = /^(\d+(ms|s|m|h|d))+$/;
const GROUP = /(\d+)(ms|s|m|h|d)/g;

export const DURATION_RULE = 'a duration such as 500ms, 60s, 5m, 1h30m or 1d (units ms, s, m, h, d)';

/** Milliseconds in `s`, or undefined when `s` is not a duration. */
export function tryParseDuration(s: string): number | undefined {
  if (!DURATION_PATTERN.test(s)) return undefined;
  let total = 0;
  for (const [, n, unit] of s.matchAll(GROUP)) total += Number(n) * UNIT_MS[unit as Unit];
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Milliseconds in a duration string; throws AEGIS_INVALID naming the accepted forms. */
export function parseDuration(s: string): number {
  const ms = tryParseDuration(s);
  if (ms === undefined) throw invalid(`invalid duration ${JSON.stringify(s)}: expected ${DURATION_RULE}`);
  return ms;
}

/** A duration field: kept as the string the user wrote (so diffs stay readable), checked here, converted with parseDuration. */
export const durationSchema = z
  .string()
  .regex(DURATION_PATTERN, { error: (iss) => `${quoteInput(iss.input)} is not ${DURATION_RULE}` })
  .refine((s) => tryParseDuration(s) !== undefined, { error: 'duration is too large' })
  .describe(`A duration: ${DURATION_RULE}.`);
