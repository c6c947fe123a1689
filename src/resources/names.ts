// Resource names (DNS labels), env-var/secret key names, and the prefixed ids every kind carries.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { invalid } from '../errors/codes.js';
import type { Kind } from './kinds.js';
import { quoteInput } from '../util/quote-input.js';

export const NAME_MAX_LENGTH = 63;
export const NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const NAME_RULE = "1-63 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit";

const lengthProblem = (name: string): string | undefined =>
  name.length === 0
    ? 'must not be empty'
    : name.length > NAME_MAX_LENGTH
      ? `must be at most ${NAME_MAX_LENGTH} characters (got ${name.length})`
      : undefined;

function patternProblem(name: string): string | undefined {
  if (!/^[a-z]/.test(name)) return 'must start with a lowercase letter';
  if (!/[a-z0-9]$/.test(name)) return 'must end with a lowercase letter or digit';
  const bad = /[^-a-z0-9]/.exec(name);
  if (bad) return `may contain only lowercase letters, digits and '-' (found ${JSON.stringify(bad[0])})`;
  return undefined;
}

/** The first naming rule `name` breaks, as a phrase, or undefined when it is a valid name. */
export const nameProblem = (name: string): string | undefined => lengthProblem(name) ?? patternProblem(name);

export const isValidName = (name: string): boolean => nameProblem(name) === undefined;

/** Throws a one-line AEGIS_INVALID naming the broken rule, e.g. `invalid app name "Web": must start with a lowercase letter`. */
export function validateName(name: unknown, what: string): asserts name is string {
  // A name from a request body may be anything JSON holds (`false` would pass the pattern as "false").
  if (typeof name !== 'string') throw invalid(`invalid ${what} ${quoteInput(name)}: must be a string`);
  const problem = nameProblem(name);
  if (problem) throw invalid(`invalid ${what} ${quoteInput(name)}: ${problem}`);
}

// min/max/regex keep the rule visible in the generated JSON Schema; the error callbacks name the exact rule broken,
// and a length failure aborts so one bad name gives one message.
export const nameSchema = z
  .string()
  .min(1, { error: 'must not be empty', abort: true })
  .max(NAME_MAX_LENGTH, { error: (iss) => lengthProblem(String(iss.input)), abort: true })
  .regex(NAME_PATTERN, { error: (iss) => patternProblem(String(iss.input)) ?? `must be ${NAME_RULE}` })
  .describe(`Resource name: ${NAME_RULE}.`);

// Keys that would reach Object.prototype through fast-json-patch or plain assignment.
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const ENV_KEY_RULE = 'letters, digits and _, not starting with a digit';

export const isEnvKey = (key: string): boolean => ENV_KEY_PATTERN.test(key) && !FORBIDDEN_KEYS.has(key);

/** An environment variable or secret key, e.g. `API_KEY`. */
export const envKeySchema = z
  .string()
  .regex(ENV_KEY_PATTERN, { error: (iss) => `${quoteInput(iss.input)} is not a valid key: use ${ENV_KEY_RULE}` })
  .refine((k) => !FORBIDDEN_KEYS.has(k), { error: (iss) => `${quoteInput(iss.input)} is a reserved key` })
  .describe(`Environment variable or secret key: ${ENV_KEY_RULE}.`);

export const ID_PREFIXES = {
  App: 'app-',
  Release: 'rel-',
  Kit: 'kit-',
  Secret: 'sec-',
  Instance: 'inst-',
  Task: 'task-',
} as const satisfies Record<Kind, string>;

// 12 hex digits of milliseconds (48 bits, good until year 10889) then 8 of randomness: sorts by creation time.
const TIME_HEX = 12;
const RAND_HEX = 8;
const ID_SUFFIX = new RegExp(`^[0-9a-f]{${TIME_HEX + RAND_HEX}}$`);

let lastMs = -1;
let lastRand = 0;

/**
 * A new id such as `app-0192f3c4d5e6a1b2c3d4`. Within one millisecond of one process the random part is
 * incremented instead of redrawn, so ids made in a row still sort in creation order.
 */
export function newId(kind: Kind, nowMs: number = Date.now()): string {
  let ms = Math.max(nowMs, lastMs);
  let rand: number;
  if (ms === lastMs) {
    rand = lastRand + 1;
    if (rand > 0xffffffff) {
      // 4 billion ids in one millisecond: borrow the next millisecond rather than wrap and lose order.
      ms += 1;
      rand = randomBytes(4).readUInt32BE(0) >>> 1;
    }
  } else {
    // Start in the lower half so increments within the millisecond have room.
    rand = randomBytes(4).readUInt32BE(0) >>> 1;
  }
  lastMs = ms;
  lastRand = rand;
  return ID_PREFIXES[kind] + ms.toString(16).padStart(TIME_HEX, '0') + rand.toString(16).padStart(RAND_HEX, '0');
}

/** True when `s` has the shape of an id that newId(kind) makes (so it is looked up as an id, not only as a name). */
export function isIdFor(kind: Kind, s: string): boolean {
  const prefix = ID_PREFIXES[kind];
  return s.startsWith(prefix) && ID_SUFFIX.test(s.slice(prefix.length));
}
