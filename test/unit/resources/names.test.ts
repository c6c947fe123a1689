// Unit tests for names.ts: the DNS-label rule and its messages, env keys, id prefixes and time-ordered ids.
import { describe, expect, it } from 'vitest';
import { isAegisError } from '../../../src/errors/codes.js';
import { KINDS } from '../../../src/resources/kinds.js';
import { ID_PREFIXES, isEnvKey, isIdFor, isValidName, nameProblem, nameSchema, newId, validateName } from '../../../src/resources/names.js';

describe('resource names', () => {
  it.each(['a', 'web', 'my-app-2', 'x1', 'a'.repeat(63), 'app-0192f3c4d5e6a1b2c3d4'])('accepts %j', (name) => {
    expect(isValidName(name)).toBe(true);
    expect(() => validateName(name, 'app name')).not.toThrow();
    expect(nameSchema.safeParse(name).success).toBe(true);
  });

  it.each([
    ['', 'must not be empty'],
    ['a'.repeat(64), 'must be at most 63 characters (got 64)'],
    ['Web', 'must start with a lowercase letter'],
    ['1web', 'must start with a lowercase letter'],
    ['-web', 'must start with a lowercase letter'],
    ['web-', 'must end with a lowercase letter or digit'],
    ['my_app', `may contain only lowercase letters, digits and '-' (found "_")`],
    ['my.app', `may contain only lowercase letters, digits and '-' (found ".")`],
    ['wEb', `may contain only lowercase letters, digits and '-' (found "E")`],
  ])('rejects %j: %s', (name, rule) => {
    expect(nameProblem(name)).toBe(rule);
    let thrown: unknown;
    try {
      validateName(name, 'app name');
    } catch (e) {
      thrown = e;
    }
    expect(isAegisError(thrown) && thrown.code).toBe('AEGIS_INVALID');
    expect((thrown as Error).message).toBe(`invalid app name ${JSON.stringify(name)}: ${rule}`);
    expect((thrown as Error).message).not.toContain('\n');
    // The zod field reports exactly one issue with the same rule.
    const r = nameSchema.safeParse(name);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toEqual([rule]);
  });
});

describe('env and secret keys', () => {
  it.each(['API_KEY', '_x', 'a', 'Path2'])('accepts %j', (k) => expect(isEnvKey(k)).toBe(true));
  it.each(['1A', 'A-B', 'A B', '', 'É', '__proto__', 'constructor', 'prototype'])('rejects %j', (k) => expect(isEnvKey(k)).toBe(false));
});

describe('ids', () => {
  it('uses the seed prefixes', () => {
    expect(ID_PREFIXES).toEqual({ App: 'app-', Release: 'rel-', Kit: 'kit-', Secret: 'sec-', Instance: 'inst-', Task: 'task-' });
  });

  it.each(KINDS)('newId(%s) has the prefix, 20 lowercase hex digits, and is itself a valid name', (kind) => {
    const id = newId(kind);
    expect(id).toMatch(new RegExp(`^${ID_PREFIXES[kind]}[0-9a-f]{20}$`));
    expect(isValidName(id)).toBe(true);
    expect(isIdFor(kind, id)).toBe(true);
    for (const other of KINDS.filter((k) => k !== kind)) expect(isIdFor(other, id)).toBe(false);
  });

  it('encodes the creation time first, so ids sort by time', () => {
    const early = newId('App', Date.UTC(2030, 0, 1));
    const late = newId('App', Date.UTC(2031, 0, 1));
    expect(early.slice(4, 16)).toBe(Date.UTC(2030, 0, 1).toString(16).padStart(12, '0'));
    expect(early < late).toBe(true);
  });

  it('stays unique and ordered for many ids in the same millisecond', () => {
    const ms = Date.UTC(2032, 5, 1);
    const ids = Array.from({ length: 1000 }, () => newId('Task', ms));
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
  });

  it('does not go backwards when the clock does', () => {
    const a = newId('Task', Date.UTC(2033, 0, 1));
    const b = newId('Task', Date.UTC(2032, 0, 1));
    expect(b > a).toBe(true);
  });

  it.each([
    ['app-0192f3c4d5e6a1b2c3d4', true],
    ['app-web', false],
    ['app-0192F3C4D5E6A1B2C3D4', false],
    ['app-0192f3c4d5e6a1b2c3d', false],
    ['rel-0192f3c4d5e6a1b2c3d4', false],
    ['web', false],
  ])('isIdFor(App, %j) = %s', (s, want) => expect(isIdFor('App', s)).toBe(want));
});
