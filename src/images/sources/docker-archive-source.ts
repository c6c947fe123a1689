// An image saved with `docker save` (`docker-archive:FILE.tar`): manifest.json names the config and the
// layer tars; a registry-style manifest is made up for it so the rest of the pull is the same.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import { invalid, notFound, notSupported } from '../../errors/codes.js';
import { MEDIA, parseImageConfig, type Descriptor } from '../manifest.js';
import type { DockerArchiveRef } from '../reference.js';
import { openLocalFile, type ImageSource, type OpenLocalFile, type SourceManifest } from './image-source.js';
import { indexTar, type TarMember } from './tar-index.js';

const archiveManifestSchema = z.array(z.looseObject({ Config: z.string(), RepoTags: z.array(z.string()).nullish(), Layers: z.array(z.string()) })).min(1);

export class DockerArchiveSource implements ImageSource {
  private members = new Map<string, TarMember>();
  /** Blob digest → archive member, filled by top(). */
  private readonly blobs = new Map<string, TarMember>();

  constructor(
    private readonly ref: DockerArchiveRef,
    private readonly openFile: OpenLocalFile = openLocalFile,
  ) {}

  async top(): Promise<SourceManifest> {
    const { file } = this.ref;
    this.members = indexTar(file, () => this.open());
    let entries;
    try {
      entries = archiveManifestSchema.parse(JSON.parse(this.readMember('manifest.json').toString('utf8')));
    } catch (err) {
      if (err instanceof Error && err.name === 'AegisError') throw err;
      throw invalid(`${file}: manifest.json is not a docker save manifest`);
    }
    if (entries.length > 1) throw notSupported(`${file} holds ${entries.length} images; aegis reads archives of one image (docker save one image per file)`);
    const entry = entries[0]!;
    const configBytes = this.readMember(entry.Config);
    const config = parseImageConfig(configBytes, file);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) throw invalid(`${file}: the config lists ${diffIds.length} layers but manifest.json lists ${entry.Layers.length}`);
    const configDigest = sha256(configBytes);
    this.blobs.set(configDigest, this.member(entry.Config));
    // Saved layers are uncompressed tars, so each one's digest is its diff id (checked when it is read).
    const layers = entry.Layers.map((name, i) => {
      const m = this.member(name);
      this.blobs.set(diffIds[i]!, m);
      return { mediaType: MEDIA.ociLayerTar, digest: diffIds[i]!, size: m.size };
    });
    const manifest = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length }, layers };
    const bytes = Buffer.from(JSON.stringify(manifest));
    return { bytes, mediaType: MEDIA.ociManifest, digest: sha256(bytes) };
  }

  async manifest(desc: Descriptor): Promise<SourceManifest> {
    throw invalid(`${this.ref.file}: a docker archive has no nested manifest ${desc.digest}`);
  }

  blob(desc: Descriptor) {
    return async (offset: number) => {
      const m = this.blobs.get(desc.digest);
      if (!m) throw notFound(`${this.ref.file} lacks blob ${desc.digest}`);
      return { stream: fs.createReadStream(this.ref.file, { fd: this.open(), start: m.offset + offset, end: m.offset + m.size - 1 }), offset };
    };
  }

  withRetries<T>(op: () => Promise<T>): Promise<T> {
    return op();
  }

  async resolve(): Promise<string> {
    return (await this.top()).digest;
  }

  async close(): Promise<void> {}

  private member(name: string): TarMember {
    const m = this.members.get(name.replace(/^(\.\/)+/, ''));
    if (!m) throw invalid(`${this.ref.file} lacks ${name}, which its manifest.json names`);
    return m;
  }

  private readMember(name: string): Buffer {
    const m = this.member(name);
    const buf = Buffer.alloc(m.size);
    const fd = this.open();
    try {
      fs.readSync(fd, buf, 0, m.size, m.offset);
    } finally {
      fs.closeSync(fd);
    }
    return buf;
  }

  private open(): number {
    try {
      return this.openFile(this.ref.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`docker archive ${this.ref.file} does not exist`);
      throw err;
    }
  }
}

const sha256 = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
