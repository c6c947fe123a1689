// An image in a registry, read through the distribution API.
import type { Descriptor } from '../manifest.js';
import type { RegistryRef } from '../reference.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/registry-client.js';
import type { ImageSource, SourceManifest } from './image-source.js';

export class RegistrySource implements ImageSource {
  private readonly client: RegistryClient;

  constructor(
    private readonly ref: RegistryRef,
    opts: RegistryClientOptions,
  ) {
    this.client = new RegistryClient(ref, opts);
  }

  top(): Promise<SourceManifest> {
    return this.client.manifest(this.ref.digest ?? this.ref.tag ?? 'latest');
  }

  async resolve(): Promise<string> {
    const reference = this.ref.digest ?? this.ref.tag ?? 'latest';
    return (await this.client.manifestDigest(reference)) ?? (await this.client.manifest(reference)).digest;
  }

  async manifest(desc: Descriptor): Promise<SourceManifest> {
    const m = await this.client.manifest(desc.digest);
    return { ...m, mediaType: m.mediaType ?? desc.mediaType };
  }

  blob(desc: Descriptor) {
    return (offset: number) => this.client.blob(desc.digest, offset);
  }

  withRetries<T>(op: () => Promise<T>): Promise<T> {
    return this.client.withRetries(op);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
