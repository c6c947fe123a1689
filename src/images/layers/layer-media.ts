// Layer compression: what a layer blob is compressed with (media type first, magic bytes as fallback) and the Transform that undoes it.
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { invalid, notSupported } from '../../errors/codes.js';

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/**
 * The compression a layer media type declares, or undefined when the type says nothing usable
 * (absent, `application/octet-stream`, a vendor type): then the caller sniffs the magic bytes.
 * Covers OCI (`…layer.v1.tar`, `+gzip`, `+zstd`, the non-distributable variants) and Docker
 * (`…rootfs.diff.tar.gzip`, `…rootfs.foreign.diff.tar.gzip`). Encrypted layers are refused.
 */
export function compressionFromMediaType(mediaType: string | undefined): LayerCompression | undefined {
  if (!mediaType) return undefined;
  const mt = mediaType.trim().toLowerCase();
  if (mt.endsWith('+encrypted')) throw notSupported(`encrypted layers are not supported (media type ${mediaType})`);
  if (mt.endsWith('.tar+gzip') || mt.endsWith('.tar.gzip')) return 'gzip';
  if (mt.endsWith('.tar+zstd')) return 'zstd';
  if (mt.endsWith('.tar')) return 'none';
  return undefined;
}

/** The compression the first bytes of a blob show; anything that is neither gzip nor zstd is taken as plain tar. */
export function compressionFromMagic(head: Uint8Array): LayerCompression {
  const starts = (magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/** fzstd's streaming decoder as a Node Transform (Node 20's zlib has no zstd). */
export class ZstdDecompressStream extends Transform {
  private readonly decoder: Decompress;

  constructor() {
    super();
    // fzstd hands out a freshly allocated array per block in streaming mode, so no copy is needed.
    this.decoder = new Decompress((data) => {
      if (data.length > 0) this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      cb();
    } catch (err) {
      cb(zstdError(err));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      cb();
    } catch (err) {
      cb(zstdError(err));
    }
  }
}

function zstdError(err: unknown) {
  return invalid(`layer is not valid zstd data: ${err instanceof Error ? err.message : String(err)}`);
}

/** A decompressing Transform for a known compression. */
export function decompressor(compression: LayerCompression): Transform {
  switch (compression) {
    case 'gzip':
      return zlib.createGunzip();
    case 'zstd':
      return new ZstdDecompressStream();
    case 'none':
      return new PassThrough();
  }
}

/**
 * A Transform that decompresses a layer blob: by the media type when it declares a compression,
 * else by the blob's first bytes. A blob declared gzip or zstd whose bytes are not fails in the
 * decompressor with a one-line error.
 */
export class LayerDecoder extends Transform {
  private inner: Transform | undefined;
  private head: Buffer[] = [];
  private headLength = 0;
  private readonly declared: LayerCompression | undefined;
  /** The compression in use, known once the first bytes arrived (or from the media type). */
  compression: LayerCompression | undefined;

  constructor(mediaType?: string) {
    super();
    const declared = compressionFromMediaType(mediaType);
    // A layer declared as plain tar is still sniffed: some registries serve gzip under the plain type.
    this.declared = declared === 'none' ? undefined : declared;
    if (this.declared) this.start(this.declared);
  }

  private start(compression: LayerCompression): Transform {
    this.compression = compression;
    const inner = decompressor(compression);
    inner.on('data', (chunk: Buffer) => this.push(chunk));
    inner.on('error', (err: Error) => this.destroy(compression === 'gzip' ? invalid(`layer is not valid gzip data: ${err.message}`) : err));
    this.inner = inner;
    return inner;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.inner) {
      this.inner.write(chunk, (err) => cb(err ?? undefined));
      return;
    }
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < ZSTD_MAGIC.length) return cb();
    this.release(cb);
  }

  private release(cb: TransformCallback): void {
    const buffered = Buffer.concat(this.head, this.headLength);
    this.head = [];
    const inner = this.start(compressionFromMagic(buffered));
    inner.write(buffered, (err) => cb(err ?? undefined));
  }

  override _flush(cb: TransformCallback): void {
    const finish = () => {
      const inner = this.inner!;
      inner.once('end', () => cb());
      inner.end();
    };
    if (!this.inner) {
      this.release((err) => (err ? cb(err) : finish()));
      return;
    }
    finish();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }
}
