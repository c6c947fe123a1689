// An image in an OCI image layout directory (`oci:DIR[:TAG]`, as written by skopeo, buildah or `docker save` 25+).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { invalid, notFound, upstream } from '../../errors/codes.js';
import { imageIndexSchema, MEDIA, type Descriptor } from '../manifest.js';
import type { OciLayoutRef } from '../reference.js';
import { openLocalFile, type ImageSource, type OpenLocalFile, type SourceManifest } from './image-source.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

export class OciLayoutSource implements ImageSource {
  constructor(
    private readonly ref: OciLayoutRef,
    private readonly openFile: OpenLocalFile = openLocalFile,
  ) {}

  async top(): Promise<SourceManifest> {
    const { dir, tag } = this.ref;
    fs.closeSync(this.open('oci-layout', () => notFound(`${dir} is not an OCI image layout (no oci-layout file)`)));
    const indexBytes = this.readFile('index.json');
    let parsed;
    try {
      parsed = imageIndexSchema.parse(JSON.parse(indexBytes.toString('utf8')));
    } catch {
      throw invalid(`${dir}/index.json is not a valid OCI image index`);
    }
    const tags = parsed.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
    if (tag) {
      const desc = parsed.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
      if (!desc) throw notFound(`${dir} has no image tagged ${tag} (tags: ${tags.join(', ') || 'none'})`);
      return this.manifest(desc);
    }
    if (parsed.manifests.length === 1) return this.manifest(parsed.manifests[0]!);
    // Entries that all name a platform are one multi-arch image: index.json itself is its index.
    if (parsed.manifests.length > 1 && parsed.manifests.every((m) => m.platform)) {
      return { bytes: indexBytes, mediaType: MEDIA.ociIndex, digest: `sha256:${crypto.createHash('sha256').update(indexBytes).digest('hex')}` };
    }
    throw invalid(`${dir} holds ${parsed.manifests.length} images: name one as oci:${dir}:TAG (tags: ${tags.join(', ') || 'none'})`);
  }

  async manifest(desc: Descriptor): Promise<SourceManifest> {
    const bytes = this.readFile(this.blobPath(desc.digest));
    const digest = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
    if (digest !== desc.digest) throw upstream(`${this.ref.dir}: manifest ${desc.digest}: digest mismatch (got ${digest})`);
    return { bytes, mediaType: desc.mediaType, digest };
  }

  blob(desc: Descriptor) {
    const rel = this.blobPath(desc.digest);
    return async (offset: number) => {
      const fd = this.open(rel, () => notFound(`${this.ref.dir} lacks blob ${desc.digest}`));
      return { stream: fs.createReadStream(path.join(this.ref.dir, rel), { fd, start: offset }), offset };
    };
  }

  withRetries<T>(op: () => Promise<T>): Promise<T> {
    return op();
  }

  async resolve(): Promise<string> {
    return (await this.top()).digest;
  }

  async close(): Promise<void> {}

  private blobPath(digest: string): string {
    return path.join('blobs', 'sha256', digest.slice('sha256:'.length));
  }

  private readFile(rel: string): Buffer {
    const fd = this.open(rel, () => notFound(`${this.ref.dir} lacks ${rel}`));
    try {
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private open(rel: string, missing: () => Error): number {
    try {
      return this.openFile(path.join(this.ref.dir, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing();
      throw err;
    }
  }
}
