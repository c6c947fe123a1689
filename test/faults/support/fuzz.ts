// What the fuzz targets share: how many cases to run (a few hundred in `npm test`, 10,000 with
// `npm run test:faults -- --long`), fast-check seeded from the suite's printed seed, hostile values, and
// the one check every rejection must pass (one line, bounded, naming the field).
import fc from 'fast-check';
import { expect } from 'vitest';
import { AegisError, isAegisError, type FieldIssue } from '../../../src/errors/codes.js';
import { LONG, seeded } from './seeded.js';

/** Cases per fuzz target: `--long` runs what the issue asks for; npm test a smaller share of it. */
export const LONG_RUNS = 10_000;

/** A fuzz test's own timeout: --long runs 10,000 cases of a target, minutes on a busy machine. */
export const FUZZ_TIMEOUT_MS = LONG ? 30 * 60_000 : 120_000;

/** fast-check parameters for one target: its seed printed (AEGIS_FAULT_SEED replays), and its case count. */
export function fuzzParams(target: string, shortRuns: number): fc.Parameters<unknown> {
  const numRuns = LONG ? LONG_RUNS : shortRuns;
  const { seed } = seeded(`fuzz ${target} (${numRuns} cases)`);
  return { seed: seed | 0, numRuns, endOnFailure: true };
}

/** An error message a user reads: longer than this, it is an echo of the input rather than a cause. */
export const MAX_MESSAGE_CHARS = 1_000;

/**
 * Messages with an empty path that still name what is wrong: the document as a whole, or a top-level key
 * whose name is the empty string (its dotted path is empty too).
 */
const WHOLE_DOCUMENT = /^(invalid (YAML|JSON)|must be a JSON object$|(request )?body must be|[a-z]+ needs {|a manifest must be a mapping|a kit manifest must be a mapping|unknown field ""|key "" )/;

/** One line, of a length someone can read; no stack trace. */
export function expectOneLine(message: string): void {
  expect(message, 'a rejection is one line').not.toMatch(/[\r\n]/);
  expect(message.length, `a rejection is short, got ${message.length} chars: ${message.slice(0, 200)}…`).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
  expect(message).not.toMatch(/\bat .+:\d+:\d+\)?$/);
}

/** Each issue names its field (or is about the whole document), and is itself one readable line. */
export function expectNamedIssues(issues: readonly FieldIssue[]): void {
  for (const i of issues) {
    expectOneLine(i.message);
    if (i.path === '') expect(i.message, 'an issue without a path is about the whole document').toMatch(WHOLE_DOCUMENT);
  }
}

/** An AEGIS_INVALID a user can act on: one line that names the first issue's field. */
export function expectInvalid(err: unknown): asserts err is AegisError {
  if (!isAegisError(err)) throw err; // a crash: not ours to judge, surface it whole
  expect(err.code).toBe('AEGIS_INVALID');
  expectOneLine(err.message);
  expectNamedIssues(err.issues);
  const first = err.issues[0];
  if (first?.path) expect(err.message).toContain(first.path);
}

// Hostile values -----------------------------------------------------------------------------------------

/** Names and strings from every corner of Unicode: combining marks, RTL, NUL, lone surrogates, emoji. */
export const hostileString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\0', '\u202e', '\ud800', 'é', 'e\u0301', '𝔞', '..', '../x', '%2e%2e', 'a\nb', '__proto__', 'constructor', '-1', '1e400', 'NaN', 'web'),
  // huge values: large enough to find echoes, small enough for thousands of cases
  fc.integer({ min: 1, max: 200_000 }).map((n) => 'a'.repeat(n)),
);

/** A JSON value with hostile leaves, some deeply nested. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 65536, 2 ** 53, -0, 1e308, 0.5, true, null, [], {}) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 1_000 }).map((depth) => nested(depth)) },
);

/** `[[[…]]]` or `{"a":{"a":…}}`, `depth` levels. */
export function nested(depth: number, kind: 'array' | 'object' = depth % 2 ? 'array' : 'object'): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

/** A structured mutation: walk to a field by index (so every field is reachable) and set, delete or add there. */
export type Mutation = { at: number[]; op: 'set' | 'delete' | 'add'; key: string; value: unknown };

/** Mutations whose added keys are hostile strings or one of `keys` (the fields a target cares about). */
export function mutationOf(keys: string[]): fc.Arbitrary<Mutation> {
  return fc.record({
    at: fc.array(fc.nat(), { maxLength: 5 }),
    op: fc.constantFrom('set', 'set', 'delete', 'add'),
    key: fc.oneof(hostileString, fc.constantFrom(...keys)),
    value: hostileJson,
  });
}

/** Applies `m` to `root` (in place where it can), returning the new root. */
export function mutate(root: unknown, m: Mutation): unknown {
  let parent: unknown = null;
  let key: string | number | null = null;
  let here: unknown = root;
  for (const i of m.at) {
    if (here === null || typeof here !== 'object') break;
    const keys = Array.isArray(here) ? here.map((_, n) => n) : Object.keys(here);
    if (keys.length === 0) break;
    parent = here;
    key = keys[i % keys.length]!;
    here = (here as Record<string | number, unknown>)[key];
  }
  if (m.op === 'add' && here !== null && typeof here === 'object' && !Array.isArray(here)) {
    Object.defineProperty(here, m.key, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true });
    return root;
  }
  // Cloned: fast-check hands out one instance of a constant ({}, []) to every case that draws it.
  if (parent === null || key === null) return m.op === 'set' ? structuredClone(m.value) : root;
  if (m.op === 'delete') delete (parent as Record<string | number, unknown>)[key];
  else (parent as Record<string | number, unknown>)[key] = structuredClone(m.value);
  return root;
}
