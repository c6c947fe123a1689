// Which image each reference resolved to when it was pulled: `refs.json`, rewritten whole and renamed into place.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface ImageRecord {
  /** The canonical reference (`docker.io/library/alpine:3.21`, `oci:/abs/dir:tag`). */
  ref: string;
  /** Digest of the platform manifest that was pulled. */
  digest: string;
  /** Digest of the multi-platform index it was chosen from, if any. */
  indexDigest?: string;
  configDigest: string;
  /** Layer blob digests, lowest first. */
  layers: string[];
  /** Bytes of config and layer blobs as stored. */
  size: number;
  pulledAt: string;
}

interface IndexFile {
  version: 1;
  images: Record<string, ImageRecord>;
}

export class RefIndex {
  private readonly file: string;
  private images: Record<string, ImageRecord>;

  constructor(root: string) {
    this.file = path.join(root, 'refs.json');
    this.images = fs.existsSync(this.file) ? (JSON.parse(fs.readFileSync(this.file, 'utf8')) as IndexFile).images : {};
  }

  get(ref: string): ImageRecord | undefined {
    return this.images[ref];
  }

  list(): ImageRecord[] {
    return Object.values(this.images).sort((a, b) => a.ref.localeCompare(b.ref));
  }

  set(record: ImageRecord): void {
    this.images = { ...this.images, [record.ref]: record };
    this.save();
  }

  delete(ref: string): boolean {
    if (!this.images[ref]) return false;
    const { [ref]: _gone, ...rest } = this.images;
    this.images = rest;
    this.save();
    return true;
  }

  private save(): void {
    const tmp = `${this.file}.tmp-${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, images: this.images } satisfies IndexFile, null, 1));
    fs.renameSync(tmp, this.file);
  }
}
