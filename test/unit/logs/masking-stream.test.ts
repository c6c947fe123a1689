// The masking stream a masked file read goes through: a value split across chunk boundaries (at every
// possible cut) is still masked, and a stream cut short drops the bytes that may begin a value.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { maskingStream } from '../../../src/logs/masking-stream.js';
import { SecretMasker, SecretPatterns } from '../../../src/logs/secret-masker.js';
import { readAll } from '../../../src/sdk/transport.js';

const SECRET = 'tok-5f4e3d2c1b';
const masker = () => {
  const patterns = SecretPatterns.of([SECRET]);
  return new SecretMasker(() => patterns);
};
const through = async (chunks: string[], cut = false) => (await readAll(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(maskingStream(masker(), { cut })))).toString();

describe('maskingStream', () => {
  it('masks a value however the stream is cut into chunks', async () => {
    const text = `key=${SECRET}\nagain ${SECRET}`;
    for (let i = 1; i < text.length; i++) {
      for (const j of [i + 1, i + 3, text.length]) {
        expect(await through([text.slice(0, i), text.slice(i, j), text.slice(j)].filter((c) => c !== ''))).toBe('key=***\nagain ***');
      }
    }
  });

  it('shows a partial value at the true end, but drops it when the source was cut short', async () => {
    expect(await through(['a=tok-5f'])).toBe('a=tok-5f');
    expect(await through(['a=tok-5f'], true)).toBe('a=');
    expect(await through([`a=${SECRET} b`], true)).toBe('a=*** b');
  });
});
