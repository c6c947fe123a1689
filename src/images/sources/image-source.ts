// Where an image's manifests and blobs come from: a registry, an OCI layout directory or a docker-save archive.
import fs from 'node:fs';
import type { OpenBlob } from '../cache/blob-store.js';
import type { Descriptor } from '../manifest.js';

export interface SourceManifest {
  bytes: Buffer;
  /** Media type from the transport (HTTP Content-Type or the index descriptor), when known. */
  mediaType: string | undefined;
  digest: string;
}

export interface ImageSource {
  /** The manifest or index the reference names. */
  top(): Promise<SourceManifest>;
  /** The digest of what the reference names (manifest or index), reading as little as the source allows. */
  resolve(): Promise<string>;
  /** A manifest named by digest inside an index. */
  manifest(desc: Descriptor): Promise<SourceManifest>;
  /** Opens a blob's bytes from an offset (see `BlobStore.ingest`). */
  blob(desc: Descriptor): OpenBlob;
  /** Runs a transfer with the source's retry policy (network sources retry; local ones do not). */
  withRetries<T>(op: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** How a local source (layout, archive) opens its files: an fd to read, or a Node error (ENOENT…). */
export type OpenLocalFile = (file: string) => number;

export const openLocalFile: OpenLocalFile = (file) => fs.openSync(file, 'r');
