// Layer compression: media-type mapping, magic-byte sniffing, and each decoder on real data.
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { compressionFromMagic, compressionFromMediaType, LayerDecoder } from '../../../src/images/layers/index.js';
import { gzip, hasZstd, streamOf, zstd } from '../../support/tar-fixtures.js';

describe('compressionFromMediaType', () => {
  it('maps OCI and Docker layer types', () => {
    expect(compressionFromMediaType('application/vnd.oci.image.layer.v1.tar')).toBe('none');
    expect(compressionFromMediaType('application/vnd.oci.image.layer.v1.tar+gzip')).toBe('gzip');
    expect(compressionFromMediaType('application/vnd.oci.image.layer.v1.tar+zstd')).toBe('zstd');
    expect(compressionFromMediaType('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip')).toBe('gzip');
    expect(compressionFromMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe('gzip');
    expect(compressionFromMediaType('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')).toBe('gzip');
    expect(compressionFromMediaType('application/octet-stream')).toBeUndefined();
    expect(compressionFromMediaType(undefined)).toBeUndefined();
  });

  it('refuses encrypted layers', () => {
    expect(() => compressionFromMediaType('application/vnd.oci.image.layer.v1.tar+gzip+encrypted')).toThrow(/encrypted/);
  });
});

describe('compressionFromMagic', () => {
  it('recognises gzip and zstd, anything else is tar', () => {
    expect(compressionFromMagic(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(compressionFromMagic(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(compressionFromMagic(Buffer.from('etc/passwd'))).toBe('none');
  });
});

describe('LayerDecoder', () => {
  const payload = Buffer.from('hello layer '.repeat(5000));

  const decode = (buf: Buffer, mediaType?: string) => text(streamOf(buf, 7).pipe(new LayerDecoder(mediaType)));

  it('sniffs gzip without a media type', async () => {
    expect(await decode(gzip(payload))).toBe(payload.toString());
  });

  it.skipIf(!hasZstd)('sniffs zstd without a media type (needs the zstd CLI to make the fixture)', async () => {
    expect(await decode(zstd(payload))).toBe(payload.toString());
  });

  it('passes plain data through, even when shorter than a magic number', async () => {
    expect(await decode(payload, 'application/vnd.oci.image.layer.v1.tar')).toBe(payload.toString());
    expect(await text(Readable.from([Buffer.from('ab')]).pipe(new LayerDecoder()))).toBe('ab');
  });

  it('fails with a one-line error when declared gzip but not gzip', async () => {
    await expect(decode(payload, 'application/vnd.oci.image.layer.v1.tar+gzip')).rejects.toThrow(/not valid gzip/);
  });

  it('fails with a one-line error when declared zstd but not zstd', async () => {
    await expect(decode(payload, 'application/vnd.oci.image.layer.v1.tar+zstd')).rejects.toThrow(/not valid zstd/);
  });
});
