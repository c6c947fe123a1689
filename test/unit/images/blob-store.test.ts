// BlobStore.ingest: a blob appears only verified; a broken transfer resumes from its partial file; bad bytes leave nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore, BlobTruncatedError, type OpenBlob } from '../../../src/images/cache/blob-store.js';

const bytes = crypto.randomBytes(300_000);
const desc = { digest: `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };

let root: string;
let store: BlobStore;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-blobs-'));
  store = new BlobStore(root);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A source that serves `data` from the requested offset, failing after `failAfter` bytes on the first call. */
function flakySource(data: Buffer, failAfter?: number) {
  const offsets: number[] = [];
  const open: OpenBlob = async (offset) => {
    offsets.push(offset);
    const rest = data.subarray(offset);
    if (failAfter !== undefined && offsets.length === 1) {
      const part = rest.subarray(0, failAfter);
      let sent = false;
      const stream = new Readable({
        read() {
          if (!sent) {
            sent = true;
            this.push(part);
            // Fail once the part had time to reach the file, like a connection reset mid-body.
          } else setTimeout(() => this.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 20);
        },
      });
      return { stream, offset };
    }
    return { stream: Readable.from([rest]), offset };
  };
  return { open, offsets };
}

describe('BlobStore.ingest', () => {
  it('resumes a broken download from where it stopped and verifies the whole blob', async () => {
    const src = flakySource(bytes, 100_000);
    await expect(store.ingest(desc, src.open, 'blob')).rejects.toThrow('reset');
    expect(store.has(desc.digest)).toBe(false);
    await store.ingest(desc, src.open, 'blob');
    expect(src.offsets).toEqual([0, 100_000]);
    expect(store.read(desc.digest).equals(bytes)).toBe(true);
    expect(fs.readdirSync(path.join(root, 'incoming'))).toEqual([]);
  });

  it('starts over when the source cannot skip (answers from offset 0)', async () => {
    const first = flakySource(bytes, 50_000);
    await expect(store.ingest(desc, first.open, 'blob')).rejects.toThrow();
    await store.ingest(desc, async () => ({ stream: Readable.from([bytes]), offset: 0 }), 'blob');
    expect(store.read(desc.digest).equals(bytes)).toBe(true);
  });

  it('refuses bytes with another digest, a blob longer than its size, and reports a short one as truncated', async () => {
    const other = Buffer.from(bytes);
    other[10] ^= 1;
    await expect(store.ingest(desc, flakySource(other).open, 'layer x')).rejects.toThrow(/^layer x: digest mismatch/);
    await expect(store.ingest(desc, flakySource(Buffer.concat([bytes, Buffer.from('!')])).open, 'layer x')).rejects.toThrow(/larger than its descriptor/);
    await expect(store.ingest(desc, flakySource(bytes.subarray(0, 10)).open, 'layer x')).rejects.toBeInstanceOf(BlobTruncatedError);
    await store.discardPartial(desc.digest);
    expect(store.has(desc.digest)).toBe(false);
    expect(fs.readdirSync(path.join(root, 'incoming'))).toEqual([]);
  });
});
