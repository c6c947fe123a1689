// A byte stream with secret values replaced by `***` as it passes (a file read with `mask`), through one
// SecretMasker: a value split across chunks is still found, since the bytes that may begin one wait for
// the next chunk. Nothing is buffered beyond those.
import { Transform } from 'node:stream';
import type { SecretMasker } from './secret-masker.js';

export interface MaskingStreamOptions {
  /** The source was cut short (maxBytes): bytes that may begin a value are dropped at the end, not shown. */
  cut?: boolean;
}

export function maskingStream(masker: SecretMasker, opts: MaskingStreamOptions = {}): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const out = masker.push(chunk);
      done(null, out.length > 0 ? out : undefined);
    },
    flush(done) {
      if (opts.cut) {
        masker.dropHeld();
        done();
        return;
      }
      const rest = masker.flush();
      done(null, rest.length > 0 ? rest : undefined);
    },
  });
}
