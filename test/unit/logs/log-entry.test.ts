import { describe, expect, it } from 'vitest';
import { chunkEntry, entryBytes, splitAtCharBoundary } from '../../../src/logs/log-entry.js';

describe('log entries', () => {
  it('keeps UTF-8 as text and anything else as base64, both byte-exact', () => {
    const text = Buffer.from('héllo ✓\n');
    expect(chunkEntry('stdout', text).text).toBe('héllo ✓\n');
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const e = chunkEntry('stderr', binary);
    expect(e.text).toBeUndefined();
    expect(entryBytes(e).equals(binary)).toBe(true);
  });

  it.each([
    ['é (2 bytes)', 'é', 1],
    ['✓ (3 bytes)', '✓', 1],
    ['✓ (3 bytes)', '✓', 2],
    ['😀 (4 bytes)', '😀', 3],
  ])('holds back a partial character: %s cut after %i byte(s)', (_name, char, cut) => {
    const chunk = Buffer.from('a' + char).subarray(0, 1 + cut);
    const { whole, rest } = splitAtCharBoundary(chunk);
    expect(whole.toString()).toBe('a');
    expect(rest.equals(chunk.subarray(1))).toBe(true);
  });

  it('passes whole characters through untouched', () => {
    const chunk = Buffer.from('ab✓😀');
    const { whole, rest } = splitAtCharBoundary(chunk);
    expect(whole.equals(chunk)).toBe(true);
    expect(rest.length).toBe(0);
  });
});
