// The image cache under `$AEGIS_HOME/data/images`: pulls references into verified blobs and unpacked
// layers, resolves them without the network when cached, and removes what nothing references.
import fs from 'node:fs';
import path from 'node:path';
import { AegisError, invalid, isAegisError, isDiskFull, noSpace, notFound, notSupported } from '../errors/codes.js';
import { ConfinedDir } from '../util/confined-dir.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { BlobStore } from './cache/blob-store.js';
import { LayerStore } from './cache/layer-store.js';
import { RefIndex, type ImageRecord } from './cache/ref-index.js';
import { compressionFromMediaType, type LayerLimits } from './layers/index.js';
import { assertRunsHere, parseImageConfig, parseManifest, selectPlatform, type Descriptor, type ImageConfig } from './manifest.js';
import type { PullPolicy, PullProgress } from './pull-policy.js';
import { parseImageRef, type ImageRef } from './reference.js';
import { lookupCredentials } from './registry/docker-credentials.js';
import { isLoopbackHost } from './registry/registry-origins.js';
import { DockerArchiveSource } from './sources/docker-archive-source.js';
import { openLocalFile, type ImageSource, type OpenLocalFile } from './sources/image-source.js';
import { OciLayoutSource } from './sources/oci-layout-source.js';
import { RegistrySource } from './sources/registry-source.js';


/** What a workload needs from its image: the layer dirs to stack and the defaults to run with. */
export interface ResolvedImage extends ImageRecord {
  /** Unpacked layer directories, lowest first. */
  layerDirs: string[];
  config: ImageRunConfig;
}

export interface ImageRunConfig {
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir?: string;
  user?: string;
}

export interface PullOptions {
  policy?: PullPolicy;
  onProgress?: (p: PullProgress) => void;
}

export interface ImageStoreOptions {
  /** Registries spoken to over plain HTTP besides loopback ones. */
  insecureRegistries?: string[];
  /** The Docker CLI config holding registry logins (default: $DOCKER_CONFIG or ~/.docker/config.json). */
  dockerConfigFile?: string;
  retry?: { attempts: number; delayMs: number };
  /**
   * Directories whose files are not the operator's (the watched directory, applied as root for whoever
   * writes there): a local ref (`oci:`, `docker-archive:`) under one reads only files inside it.
   */
  untrustedDirs?: string[];
  /** What one layer may unpack to (`limits.layer`, `limits.layerEntries`); unbounded when absent. */
  layerLimits?: LayerLimits;
}

const PARALLEL_LAYERS = 3;

export class ImageStore {
  private readonly blobs: BlobStore;
  private readonly layers: LayerStore;
  private readonly refs: RefIndex;
  private readonly lock = new KeyedLock();
  /** Layer digests of machines that run now, with a count each: never removed while counted. */
  private readonly inUse = new Map<string, number>();
  private activePulls = 0;
  private readonly pinDir: string;

  constructor(
    readonly root: string,
    private readonly opts: ImageStoreOptions = {},
  ) {
    fs.mkdirSync(root, { recursive: true });
    this.blobs = new BlobStore(root);
    this.layers = new LayerStore(root, opts.layerLimits);
    this.refs = new RefIndex(root);
    this.pinDir = path.join(root, 'pins');
    fs.mkdirSync(this.pinDir, { recursive: true });
    // Only one daemon owns the cache, so anything half-done now was left by a dead one.
    this.blobs.clearIncoming();
    this.layers.clearPartial();
  }

  /** The image `ref` names, pulled according to `policy` (default: only when not cached). */
  async pull(refText: string, opts: PullOptions = {}): Promise<ResolvedImage> {
    const ref = parseImageRef(refText);
    const policy = opts.policy ?? 'missing';
    if (policy !== 'always') {
      const hit = this.cached(ref.canonical);
      if (hit) return hit;
      if (policy === 'never') throw notFound(`image ${ref.canonical} is not in the cache and the pull policy is never`);
    }
    return this.lock.run(`ref:${ref.canonical}`, async () => {
      // A concurrent pull of the same ref may have finished while this one waited.
      if (policy !== 'always') {
        const hit = this.cached(ref.canonical);
        if (hit) return hit;
      }
      return this.fetch(ref, opts.onProgress ?? (() => {}));
    });
  }

  /**
   * The digest `ref` names now, without pulling: from the cache when the image is complete there, else from
   * its source (a registry answers a manifest HEAD, or GET when it gives no digest). Tried once: callers
   * retry on their own schedule. Errors are one line naming the cause.
   */
  async resolve(refText: string): Promise<string> {
    const ref = parseImageRef(refText);
    const hit = this.cached(ref.canonical);
    if (hit) return hit.indexDigest ?? hit.digest;
    const source = this.source(ref, { attempts: 1 });
    try {
      return await source.resolve();
    } catch (err) {
      if (isAegisError(err)) throw err;
      throw new AegisError('AEGIS_INTERNAL', `resolving image ${ref.canonical} failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await source.close();
    }
  }

  /** The cached image for a canonical ref when every piece of it is on disk. */
  cached(canonical: string): ResolvedImage | undefined {
    const record = this.refs.get(canonical);
    if (!record) return undefined;
    if (!this.blobs.has(record.configDigest) || record.layers.some((d) => !this.layers.has(d))) return undefined;
    return this.resolved(record);
  }

  list(): ImageRecord[] {
    return this.refs.list();
  }

  /**
   * Keeps an image's blobs and layers, whatever later happens to its ref (a moved tag, rm, prune), until
   * `unpin(id)`: a release pins what it published. Returns the pin file, the release's rootfs artifact.
   */
  pin(id: string, image: ImageRecord): string {
    const file = this.pinFile(id);
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(image, null, 1));
    fs.renameSync(tmp, file);
    return file;
  }

  /** The image pinned as `id`, when it is still complete on disk. */
  pinned(id: string): ResolvedImage | undefined {
    const record = this.readPin(id);
    if (!record || !this.blobs.has(record.configDigest) || record.layers.some((d) => !this.layers.has(d))) return undefined;
    return this.resolved(record);
  }

  async unpin(id: string): Promise<void> {
    fs.rmSync(this.pinFile(id), { force: true });
    await this.collectGarbage();
  }

  /** Marks an image's layers as in use by a machine; call the returned function when the machine is gone. */
  retain(image: ResolvedImage): () => void {
    for (const d of image.layers) this.inUse.set(d, (this.inUse.get(d) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const d of image.layers) {
        const n = (this.inUse.get(d) ?? 1) - 1;
        if (n <= 0) this.inUse.delete(d);
        else this.inUse.set(d, n);
      }
    };
  }

  /** Forgets a reference and deletes whatever only it used (layers of running machines stay until prune). */
  async remove(refText: string): Promise<{ ref: string; freedBytes: number }> {
    const ref = parseImageRef(refText);
    return this.lock.run(`ref:${ref.canonical}`, async () => {
      if (!this.refs.delete(ref.canonical)) throw notFound(`image ${ref.canonical} is not in the cache`);
      return { ref: ref.canonical, freedBytes: await this.collectGarbage() };
    });
  }

  /** Removes every image for which `keep(ref)` is false, then everything unreferenced. */
  async prune(keep: (canonicalRef: string) => boolean): Promise<{ removed: string[]; freedBytes: number }> {
    const removed: string[] = [];
    for (const record of this.refs.list()) {
      if (keep(record.ref) || record.layers.some((d) => this.inUse.has(d))) continue;
      this.refs.delete(record.ref);
      removed.push(record.ref);
    }
    // Partial downloads of failed pulls wait in incoming/ to be resumed; prune gives up on them.
    if (this.activePulls === 0) this.blobs.clearIncoming();
    return { removed, freedBytes: await this.collectGarbage() };
  }

  private async collectGarbage(): Promise<number> {
    return this.lock.run('gc', async () => {
      const wanted = new Set<string>(this.inUse.keys());
      for (const r of [...this.refs.list(), ...this.pins()]) for (const d of [r.digest, r.configDigest, ...r.layers, ...(r.indexDigest ? [r.indexDigest] : [])]) wanted.add(d);
      let freed = 0;
      for (const d of this.layers.list()) if (!wanted.has(d)) this.layers.remove(d);
      for (const d of this.blobs.list()) {
        if (wanted.has(d)) continue;
        freed += this.blobs.size(d);
        this.blobs.remove(d);
      }
      return freed;
    });
  }

  private pinFile(id: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw invalid(`pin id ${JSON.stringify(id)} must be letters, digits, '.', '_' or '-'`);
    return path.join(this.pinDir, `${id}.json`);
  }

  private readPin(id: string): ImageRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.pinFile(id), 'utf8')) as ImageRecord;
    } catch {
      return undefined;
    }
  }

  private pins(): ImageRecord[] {
    return fs
      .readdirSync(this.pinDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.readPin(f.slice(0, -'.json'.length)))
      .filter((r): r is ImageRecord => r !== undefined);
  }

  private source(ref: ImageRef, override: { attempts?: number } = {}): ImageSource {
    if (ref.kind === 'oci-layout') return new OciLayoutSource(ref, this.localOpener(ref.dir));
    if (ref.kind === 'docker-archive') return new DockerArchiveSource(ref, this.localOpener(ref.file));
    const insecure = this.opts.insecureRegistries ?? [];
    return new RegistrySource(ref, {
      plainHttp: isLoopbackHost(ref.registry) || insecure.includes(ref.registry),
      credentials: lookupCredentials(ref.registry, this.opts.dockerConfigFile),
      ...(this.opts.retry ? { attempts: this.opts.retry.attempts, retryDelayMs: this.opts.retry.delayMs } : {}),
      ...override,
    });
  }

  /** Confined to the untrusted directory `local` lies in, if any: its symlinks cannot lead out (not even after the manifest was checked). */
  private localOpener(local: string): OpenLocalFile {
    for (const dir of this.opts.untrustedDirs ?? []) {
      let confined: ConfinedDir;
      try {
        confined = ConfinedDir.of(dir);
      } catch {
        continue; // gone: nothing under it can be opened anyway
      }
      if (confined.relative(local) !== undefined) return (file) => confined.open(file);
    }
    return openLocalFile;
  }

  private async fetch(ref: ImageRef, onProgress: (p: PullProgress) => void): Promise<ResolvedImage> {
    const what = `image ${ref.canonical}`;
    const progress: PullProgress = { ref: ref.canonical, phase: 'resolving', layersTotal: 0, layersDone: 0, bytesTotal: 0, bytesDone: 0 };
    onProgress({ ...progress });
    const source = this.source(ref);
    this.activePulls++;
    try {
      const top = await source.top();
      let manifestBytes = top;
      let indexDigest: string | undefined;
      let parsed = parseManifest(top.bytes, top.mediaType, what);
      if (parsed.kind === 'index') {
        indexDigest = top.digest;
        manifestBytes = await source.manifest(selectPlatform(parsed.index, what));
        parsed = parseManifest(manifestBytes.bytes, manifestBytes.mediaType, what);
        if (parsed.kind === 'index') throw notSupported(`${what}: an index inside an index is not supported`);
      }
      const manifest = parsed.manifest;
      for (const layer of manifest.layers) assertLayerType(layer, what);

      await source.withRetries(() => this.blobs.ingest(manifest.config, source.blob(manifest.config), `${what} config`));
      const config = parseImageConfig(this.blobs.read(manifest.config.digest), what);
      assertRunsHere(config, what);

      progress.phase = 'downloading';
      progress.layersTotal = manifest.layers.length;
      progress.bytesTotal = manifest.layers.reduce((n, l) => n + l.size, 0);
      onProgress({ ...progress });
      await forEachLimit(manifest.layers, PARALLEL_LAYERS, async (layer) => {
        await this.lock.run(`layer:${layer.digest}`, async () => {
          if (!this.layers.has(layer.digest)) {
            await source.withRetries(() =>
              this.blobs.ingest(layer, source.blob(layer), `${what} layer ${layer.digest}`, (n) => {
                progress.bytesDone += n;
                onProgress({ ...progress });
              }),
            );
            await this.unpack(layer, what);
          } else {
            progress.bytesDone += layer.size;
          }
        });
        progress.layersDone++;
        onProgress({ ...progress });
      });

      await this.blobs.putBytes({ digest: manifestBytes.digest, size: manifestBytes.bytes.length }, manifestBytes.bytes, what);
      if (indexDigest) await this.blobs.putBytes({ digest: indexDigest, size: top.bytes.length }, top.bytes, what);
      const record: ImageRecord = {
        ref: ref.canonical,
        digest: manifestBytes.digest,
        ...(indexDigest ? { indexDigest } : {}),
        configDigest: manifest.config.digest,
        layers: manifest.layers.map((l) => l.digest),
        size: manifest.config.size + progress.bytesTotal,
        pulledAt: new Date().toISOString(),
      };
      this.refs.set(record);
      progress.phase = 'done';
      onProgress({ ...progress });
      return this.resolved(record, config);
    } catch (err) {
      // Partial downloads stay in incoming/ (outside the cache proper): the next pull resumes them.
      if (isAegisError(err)) throw err;
      if (isDiskFull(err)) throw noSpace(`no space left on device: could not store ${what} in the image cache (${this.root}); free some space and retry`);
      throw new AegisError('AEGIS_INTERNAL', `pulling ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.activePulls--;
      await source.close();
    }
  }

  /** Unpacks a verified layer blob; an unsafe or corrupt layer is refused and its blob dropped. */
  private async unpack(layer: Descriptor, what: string): Promise<void> {
    try {
      await this.layers.unpack(this.blobs, layer.digest, layer.mediaType);
    } catch (err) {
      if (!this.refs.list().some((r) => r.layers.includes(layer.digest))) this.blobs.remove(layer.digest);
      if (isAegisError(err)) throw new AegisError(err.code, `${what} refused: layer ${layer.digest.slice(0, 19)}: ${err.message}`, err.issues);
      throw err;
    }
  }

  private resolved(record: ImageRecord, config?: ImageConfig): ResolvedImage {
    const c = (config ?? parseImageConfig(this.blobs.read(record.configDigest), record.ref)).config ?? {};
    return {
      ...record,
      layerDirs: record.layers.map((d) => this.layers.path(d)),
      config: {
        env: c.Env ?? [],
        entrypoint: c.Entrypoint ?? [],
        cmd: c.Cmd ?? [],
        ...(c.WorkingDir ? { workingDir: c.WorkingDir } : {}),
        ...(c.User ? { user: c.User } : {}),
      },
    };
  }
}

function assertLayerType(layer: Descriptor, what: string): void {
  if (compressionFromMediaType(layer.mediaType) !== undefined) return;
  // Registries sometimes serve layers as octet-stream; other types are artifacts, not filesystem layers.
  if (layer.mediaType === 'application/octet-stream') return;
  throw invalid(`${what} is not a container image: layer ${layer.digest.slice(0, 19)} has media type ${layer.mediaType}`);
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
