// Reads a registry's small answers (manifests, tokens, error bodies) with a cap on size and time, so a
// hostile or broken registry cannot make the daemon buffer without end or wait forever.
import type { Readable } from 'node:stream';

export class BodyLimitError extends Error {
  constructor(readonly limit: 'size' | 'time') {
    super(limit === 'size' ? 'body too large' : 'body too slow');
    this.name = 'BodyLimitError';
  }
}

export interface BodyLimits {
  maxBytes: number;
  timeoutMs: number;
}

/** The whole body, or a BodyLimitError as soon as it passes maxBytes (declared or received) or timeoutMs. */
export async function readBounded(body: Readable, declaredLength: string | string[] | undefined, limits: BodyLimits): Promise<Buffer> {
  const declared = Number(Array.isArray(declaredLength) ? declaredLength[0] : declaredLength);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    body.destroy();
    throw new BodyLimitError('size');
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    body.destroy();
  }, limits.timeoutMs);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limits.maxBytes) {
        body.destroy();
        throw new BodyLimitError('size');
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (timedOut) throw new BodyLimitError('time');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) throw new BodyLimitError('time');
  return Buffer.concat(chunks);
}

/** Drops a body we do not need (a redirect's, a 401's): a little is read so the connection can be reused. */
export async function discard(body: { dump(opts?: { limit?: number; signal?: AbortSignal }): Promise<unknown> }): Promise<void> {
  await body.dump({ limit: 64 * 1024, signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
}
