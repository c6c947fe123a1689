// Secret masking of output streams: `***` for every occurrence however the output is cut into chunks,
// checked against a plain search over the whole output, plus the policy (short values, lines, rotation).
import { describe, expect, it } from 'vitest';
import { SecretMasker, SecretPatterns } from '../../../src/logs/secret-masker.js';

const masker = (values: string[]) => {
  const patterns = SecretPatterns.of(values);
  return new SecretMasker(() => patterns);
};

/** Feeds `chunks` and the end of the stream; returns what came out. */
function run(m: SecretMasker, chunks: (string | Buffer)[]): string {
  const out = chunks.map((c) => m.push(Buffer.from(c)));
  out.push(m.flush());
  return Buffer.concat(out).toString('latin1');
}

/** The reference: every occurrence of every value found in the whole text, overlapping ones merged, each run one `***`. */
function naive(values: string[], text: string): string {
  const ranges: [number, number][] = [];
  for (const v of values) for (let i = text.indexOf(v); i >= 0; i = text.indexOf(v, i + 1)) ranges.push([i, i + v.length]);
  ranges.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (let i = 0; i < ranges.length; ) {
    let [start, end] = ranges[i]!;
    for (i++; i < ranges.length && ranges[i]![0] < end; i++) end = Math.max(end, ranges[i]![1]);
    out += text.slice(at, start) + '***';
    at = end;
  }
  return out + text.slice(at);
}

/** A small deterministic generator (mulberry32), so a failure replays. */
function random(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

describe('SecretMasker', () => {
  it('masks each value, and a value split across writes of one line', () => {
    expect(run(masker(['hunter22', 'sk-abc123']), ['token=hunter22 key=sk-abc123\n'])).toBe('token=*** key=***\n');
    expect(run(masker(['hunter22']), ['pass: hun', 'ter', '22 ok\n'])).toBe('pass: *** ok\n');
    // Held bytes that turn out not to be a value come out unchanged.
    expect(run(masker(['hunter22']), ['hunt', 'ed\n'])).toBe('hunted\n');
    expect(run(masker(['hunter22']), ['hunter2'])).toBe('hunter2');
  });

  it('releases everything but a possible start of a value at once', () => {
    const m = masker(['hunter22']);
    expect(m.push(Buffer.from('line one\nsay hun')).toString()).toBe('line one\nsay ');
    expect(m.hasPending).toBe(true);
    expect(m.push(Buffer.from('ter22!\n')).toString()).toBe('***!\n');
    expect(m.hasPending).toBe(false);
  });

  it('masks values under 4 bytes nowhere, and a multi-line value line by line, trimmed', () => {
    expect(run(masker(['abc', 'x', '']), ['abc x abcd\n'])).toBe('abc x abcd\n');
    const pem = '-----BEGIN KEY-----\r\nMIIBVwIBADANBgkq\n  hkiG9w0BAQEFAASC  \nok\n-----END KEY-----\n';
    expect(run(masker([pem]), [pem])).toBe('***\r\n***\n  ***  \nok\n***\n');
    expect(SecretPatterns.of(['abc', ' \n ', 'no'])).toBeUndefined();
  });

  it('writes one *** for overlapping occurrences, and one each for adjacent ones', () => {
    expect(run(masker(['abcd', 'cdef']), ['xabcdefx'])).toBe('x***x');
    expect(run(masker(['bc12', 'abc123']), ['abc123'])).toBe('***');
    // A value inside an unfinished longer one: found through the automaton's failure links.
    expect(run(masker(['bc12', 'abc123']), ['abc12x'])).toBe('a***x');
    expect(run(masker(['abcd']), ['abcdabcd'])).toBe('******');
    expect(run(masker(['aaaa']), ['aaaaaaa'])).toBe('***');
  });

  it('keeps binary output byte for byte apart from the values', () => {
    const bin = Buffer.from([0, 0xff, 0xfe, 0x80, ...Buffer.from('s3cr3t!'), 0xc3, 0x28, 0]);
    const out = Buffer.concat([masker(['s3cr3t!']).push(bin)]);
    expect(out).toEqual(Buffer.from([0, 0xff, 0xfe, 0x80, ...Buffer.from('***'), 0xc3, 0x28, 0]));
  });

  it('follows a changed set of values from the next chunk, looking again at what it holds', () => {
    let patterns = SecretPatterns.of(['abcdWXYZ']);
    const m = new SecretMasker(() => patterns);
    const out = [m.push(Buffer.from('abcdWXYZ abcd'))];
    expect(out[0]!.toString()).toBe('*** ');
    // Rotated: the held `abcd` is not the old value's start any more, but its `cd` starts the new one.
    patterns = SecretPatterns.of(['cdEFGH']);
    out.push(m.push(Buffer.from('EFGH abcdWXYZ\n')), m.flush());
    expect(Buffer.concat(out).toString()).toBe('*** ab*** abcdWXYZ\n');
    patterns = undefined;
    expect(run(m, ['cdEFGH\n'])).toBe('cdEFGH\n');
  });

  it('agrees with a plain search of the whole output however it is chunked (random values and cuts)', () => {
    const next = random(15);
    const word = (len: number) => Array.from({ length: len }, () => 'ab\nc'[next(4)]).join('');
    for (let round = 0; round < 1000; round++) {
      // A tiny alphabet makes values overlap, nest and share prefixes: the cases a per-value search gets wrong.
      const values = Array.from({ length: 1 + next(6) }, () => word(4 + next(3)).replace(/\n/g, 'b'));
      const text = word(next(200));
      const cuts: string[] = [];
      for (let at = 0; at < text.length; ) {
        const len = 1 + next(9);
        cuts.push(text.slice(at, at + len));
        at += len;
      }
      expect(run(masker(values), cuts), JSON.stringify({ values, cuts })).toBe(naive(values, text));
    }
  });
});
