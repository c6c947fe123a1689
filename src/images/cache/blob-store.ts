// Content-addressed blobs (manifests, configs, layer archives) under `blobs/sha256/<hex>`. A blob appears
// only after its size and digest were checked; downloads grow in `incoming/` and can resume from there.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { upstream } from '../../errors/codes.js';

export interface BlobDescriptor {
  digest: string;
  size: number;
}

/** A source of a blob's bytes from `offset`; `offset` in the answer is where it really starts (0 when it cannot skip). */
export type OpenBlob = (offset: number) => Promise<{ stream: Readable; offset: number }>;

const hexOf = (digest: string) => digest.slice('sha256:'.length);

export class BlobStore {
  readonly dir: string;
  private readonly incoming: string;

  constructor(root: string) {
    this.dir = path.join(root, 'blobs', 'sha256');
    this.incoming = path.join(root, 'incoming');
    fs.mkdirSync(this.dir, { recursive: true });
    fs.mkdirSync(this.incoming, { recursive: true });
  }

  path(digest: string): string {
    return path.join(this.dir, hexOf(digest));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.path(digest));
  }

  read(digest: string): Buffer {
    return fs.readFileSync(this.path(digest));
  }

  /** Stores bytes already in memory (manifests, configs) after checking their digest. */
  async putBytes(desc: BlobDescriptor, bytes: Buffer, what: string): Promise<void> {
    if (this.has(desc.digest)) return;
    const actual = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== desc.digest) throw upstream(`${what}: digest mismatch (expected ${desc.digest}, got ${actual})`);
    const tmp = path.join(this.incoming, `${hexOf(desc.digest)}.bytes-${crypto.randomBytes(4).toString('hex')}`);
    await fsp.writeFile(tmp, bytes);
    await fsp.rename(tmp, this.path(desc.digest));
  }

  /**
   * Streams a blob into the store. A partial file left by an earlier attempt is resumed (the source is
   * asked for the rest); a blob longer than `size` or with another digest is refused and its partial
   * file removed. On any other error the partial file stays, so the next attempt resumes.
   */
  async ingest(desc: BlobDescriptor, open: OpenBlob, what: string, onBytes: (n: number) => void = () => {}): Promise<void> {
    if (this.has(desc.digest)) return;
    const partial = path.join(this.incoming, `${hexOf(desc.digest)}.partial`);
    const hash = crypto.createHash('sha256');
    let have = 0;
    try {
      have = (await fsp.stat(partial)).size;
    } catch {
      // no earlier attempt
    }
    const src = await open(have > desc.size ? 0 : have);
    if (src.offset === 0) {
      have = 0;
      await fsp.writeFile(partial, '');
    } else {
      for await (const chunk of fs.createReadStream(partial, { end: src.offset - 1 })) hash.update(chunk as Buffer);
      have = src.offset;
      await fsp.truncate(partial, have);
    }
    let tooLong = false;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        have += chunk.length;
        if (have > desc.size) {
          tooLong = true;
          return cb(upstream(`${what}: the blob is larger than its descriptor's ${desc.size} bytes`));
        }
        hash.update(chunk);
        onBytes(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(src.stream, counter, fs.createWriteStream(partial, { flags: 'a' }));
    } catch (err) {
      if (tooLong) await fsp.rm(partial, { force: true });
      throw err;
    }
    if (have < desc.size) throw new BlobTruncatedError(`${what}: the stream ended after ${have} of ${desc.size} bytes`);
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== desc.digest) {
      await fsp.rm(partial, { force: true });
      throw upstream(`${what}: digest mismatch (expected ${desc.digest}, got ${actual})`);
    }
    await fsp.rename(partial, this.path(desc.digest));
  }

  /** Drops the partial download of `digest` (after the last retry failed). */
  async discardPartial(digest: string): Promise<void> {
    await fsp.rm(path.join(this.incoming, `${hexOf(digest)}.partial`), { force: true });
  }

  /** Removes every partial download (at daemon start: nothing is pulling then). */
  clearIncoming(): void {
    for (const f of fs.readdirSync(this.incoming)) fs.rmSync(path.join(this.incoming, f), { recursive: true, force: true });
  }

  list(): string[] {
    return fs.readdirSync(this.dir).filter((f) => /^[a-f0-9]{64}$/.test(f)).map((hex) => `sha256:${hex}`);
  }

  size(digest: string): number {
    return fs.statSync(this.path(digest)).size;
  }

  remove(digest: string): void {
    fs.rmSync(this.path(digest), { force: true });
  }
}

/** A blob stream that ended early: worth a retry, which resumes. */
export class BlobTruncatedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobTruncatedError';
  }
}
