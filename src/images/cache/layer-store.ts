// Unpacked layers by blob digest under `layers/sha256/<hex>`: each one a directory usable as an overlayfs lower dir.
import fs from 'node:fs';
import path from 'node:path';
import { unpackLayer, type LayerLimits } from '../layers/index.js';
import type { BlobStore } from './blob-store.js';

export class LayerStore {
  readonly dir: string;

  constructor(
    root: string,
    /** What one layer may unpack to; none when absent. */
    private readonly limits?: LayerLimits,
  ) {
    this.dir = path.join(root, 'layers', 'sha256');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  path(digest: string): string {
    return path.join(this.dir, digest.slice('sha256:'.length));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.path(digest));
  }

  /** Unpacks a stored blob; unpackLayer works in a temp dir and renames it into place, or leaves nothing. */
  async unpack(blobs: BlobStore, digest: string, mediaType: string): Promise<void> {
    if (this.has(digest)) return;
    // Large reads: the default 64 KiB means a thread-pool round trip per 64 KiB of layer.
    await unpackLayer(fs.createReadStream(blobs.path(digest), { highWaterMark: 1 << 20 }), this.path(digest), { mediaType, ...(this.limits ? { limits: this.limits } : {}) });
  }

  /** Removes temp dirs of unpacks that a dead daemon left behind. */
  clearPartial(): void {
    for (const f of fs.readdirSync(this.dir)) if (f.includes('.tmp-')) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
  }

  list(): string[] {
    return fs.readdirSync(this.dir).filter((f) => /^[a-f0-9]{64}$/.test(f)).map((hex) => `sha256:${hex}`);
  }

  remove(digest: string): void {
    fs.rmSync(this.path(digest), { recursive: true, force: true });
  }
}
