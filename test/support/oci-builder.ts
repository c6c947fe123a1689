// Builds OCI / Docker images in memory for image tests, and publishes them to a registry, an OCI layout
// directory or a `docker save` archive.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzip, makeTar, zstd, type FixtureEntry } from './tar-fixtures.js';

export type { FixtureEntry } from './tar-fixtures.js';

export interface LayerSpec {
  entries: FixtureEntry[];
  /** Default gzip. Docker media types have no zstd. */
  compression?: 'gzip' | 'zstd' | 'none';
}

export interface ImageConfigSpec {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
}

export interface BuildImageOptions {
  layers: LayerSpec[];
  config?: ImageConfigSpec;
  /** Default 'amd64'. */
  architecture?: string;
  /** Default 'linux'. */
  os?: string;
  /** Default 'oci'. */
  mediaTypes?: 'oci' | 'docker';
}

export interface BuiltLayer {
  digest: string;
  size: number;
  mediaType: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** The blob as stored (compressed or not). */
  bytes: Buffer;
  /** The uncompressed tar. */
  tar: Buffer;
}

export interface BuiltImage {
  manifest: Record<string, any>;
  manifestBytes: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  config: Record<string, any>;
  configBytes: Buffer;
  configDigest: string;
  configMediaType: string;
  layers: BuiltLayer[];
  /** Config and layer blobs by digest (not the manifest). */
  blobs: Map<string, Buffer>;
  platform: { architecture: string; os: string };
}

export interface BuiltIndex {
  index: Record<string, any>;
  indexBytes: Buffer;
  indexDigest: string;
  mediaType: string;
}

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

/** Every manifest media type, for Accept headers. */
export const MANIFEST_ACCEPT = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerManifestList].join(', ');

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hexOf = (digest: string) => digest.slice('sha256:'.length);

// Fixed timestamps keep builds byte-for-byte reproducible, so digests are stable across runs.
const CREATED = '2021-06-07T08:09:10Z';

function layerMedia(kind: 'oci' | 'docker', compression: 'gzip' | 'zstd' | 'none'): string {
  if (kind === 'oci') return compression === 'gzip' ? MEDIA.ociLayerGzip : compression === 'zstd' ? MEDIA.ociLayerZstd : MEDIA.ociLayerTar;
  if (compression === 'zstd') throw new Error('docker media types have no zstd layer');
  return compression === 'gzip' ? MEDIA.dockerLayerGzip : MEDIA.dockerLayerTar;
}

export async function buildImage(opts: BuildImageOptions): Promise<BuiltImage> {
  const kind = opts.mediaTypes ?? 'oci';
  const layers: BuiltLayer[] = [];
  for (const spec of opts.layers) {
    const compression = spec.compression ?? 'gzip';
    const tar = await makeTar(spec.entries);
    const bytes = compression === 'gzip' ? gzip(tar) : compression === 'zstd' ? zstd(tar) : tar;
    layers.push({ digest: sha256(bytes), size: bytes.length, mediaType: layerMedia(kind, compression), diffId: sha256(tar), bytes, tar });
  }
  const platform = { architecture: opts.architecture ?? 'amd64', os: opts.os ?? 'linux' };
  const config = {
    created: CREATED,
    architecture: platform.architecture,
    os: platform.os,
    config: { ...(opts.config ?? {}) },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: CREATED, created_by: `aegis test layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  const configMediaType = kind === 'oci' ? MEDIA.ociConfig : MEDIA.dockerConfig;
  const manifestMediaType = kind === 'oci' ? MEDIA.ociManifest : MEDIA.dockerManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: { mediaType: configMediaType, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const blobs = new Map<string, Buffer>([[configDigest, configBytes]]);
  for (const l of layers) blobs.set(l.digest, l.bytes);
  return {
    manifest,
    manifestBytes,
    manifestDigest: sha256(manifestBytes),
    manifestMediaType,
    config,
    configBytes,
    configDigest,
    configMediaType,
    layers,
    blobs,
    platform,
  };
}

export function buildIndex(images: BuiltImage[], opts: { mediaTypes?: 'oci' | 'docker' } = {}): BuiltIndex {
  const mediaType = (opts.mediaTypes ?? 'oci') === 'oci' ? MEDIA.ociIndex : MEDIA.dockerManifestList;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((img) => ({
      mediaType: img.manifestMediaType,
      digest: img.manifestDigest,
      size: img.manifestBytes.length,
      platform: { ...img.platform },
    })),
  };
  const indexBytes = Buffer.from(JSON.stringify(index));
  return { index, indexBytes, indexDigest: sha256(indexBytes), mediaType };
}

// ---- registry push ----

export interface RegistryAuth {
  user: string;
  password: string;
}

/** Parses `Bearer realm="…",service="…",scope="…"` into its parameters. */
function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(sp + 1).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
  return { scheme, params };
}

/** A fetch that answers Basic and Bearer (token) challenges once per request, remembering the token. */
function authedFetch(auth: RegistryAuth | undefined) {
  let authorization: string | undefined;
  const basic = auth ? `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` : undefined;
  return async (url: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> => {
    const send = () =>
      fetch(url, {
        method: init.method ?? 'GET',
        headers: { ...(init.headers ?? {}), ...(authorization ? { authorization } : {}) },
        body: init.body,
      });
    let res = await send();
    if (res.status !== 401) return res;
    const challenge = res.headers.get('www-authenticate');
    if (!challenge) return res;
    await res.body?.cancel();
    const { scheme, params } = parseChallenge(challenge);
    if (scheme === 'basic') {
      if (!basic) throw new Error(`${url}: registry wants Basic auth and none was given`);
      authorization = basic;
    } else if (scheme === 'bearer') {
      const tokenUrl = new URL(params.realm);
      if (params.service) tokenUrl.searchParams.set('service', params.service);
      if (params.scope) tokenUrl.searchParams.set('scope', params.scope);
      const tr = await fetch(tokenUrl, { headers: basic ? { authorization: basic } : {} });
      if (!tr.ok) throw new Error(`token endpoint ${tokenUrl}: ${tr.status} ${await tr.text()}`);
      const body = (await tr.json()) as { token?: string; access_token?: string };
      authorization = `Bearer ${body.token ?? body.access_token}`;
    } else {
      return res;
    }
    res = await send();
    return res;
  };
}

async function expectStatus(res: Response, ok: number[], what: string): Promise<void> {
  if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
}

type AuthedFetch = ReturnType<typeof authedFetch>;

async function pushBlob(f: AuthedFetch, base: string, repo: string, digest: string, bytes: Buffer): Promise<void> {
  const head = await f(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return;
  const start = await f(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await expectStatus(start, [202], `start upload of ${digest}`);
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (!location) throw new Error(`start upload of ${digest}: no Location`);
  const put = new URL(location, base);
  put.searchParams.set('digest', digest);
  const res = await f(put.toString(), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(res, [201], `upload ${digest}`);
  await res.body?.cancel();
}

async function putManifest(f: AuthedFetch, base: string, repo: string, ref: string, mediaType: string, bytes: Buffer, digest: string) {
  const res = await f(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'content-type': mediaType }, body: bytes });
  await expectStatus(res, [201], `put manifest ${repo}:${ref}`);
  await res.body?.cancel();
  const got = res.headers.get('docker-content-digest');
  if (got && got !== digest) throw new Error(`put manifest ${repo}:${ref}: registry says ${got}, expected ${digest}`);
}

const trimUrl = (u: string) => u.replace(/\/+$/, '');

async function pushImageWith(f: AuthedFetch, base: string, repo: string, ref: string, image: BuiltImage): Promise<void> {
  for (const [digest, bytes] of image.blobs) await pushBlob(f, base, repo, digest, bytes);
  await putManifest(f, base, repo, ref, image.manifestMediaType, image.manifestBytes, image.manifestDigest);
}

/** Pushes blobs (monolithic uploads, skipping ones present) then the manifest under `tag` (a tag or a digest). */
export async function pushImage(registryUrl: string, repo: string, tag: string, image: BuiltImage, auth?: RegistryAuth): Promise<void> {
  await pushImageWith(authedFetch(auth), trimUrl(registryUrl), repo, tag, image);
}

/** Pushes each child image by digest, then the index under `tag`. */
export async function pushIndex(
  registryUrl: string,
  repo: string,
  tag: string,
  images: BuiltImage[],
  index: BuiltIndex,
  auth?: RegistryAuth,
): Promise<void> {
  const f = authedFetch(auth);
  const base = trimUrl(registryUrl);
  for (const img of images) await pushImageWith(f, base, repo, img.manifestDigest, img);
  await putManifest(f, base, repo, tag, index.mediaType, index.indexBytes, index.indexDigest);
}

// ---- on-disk formats ----

/** An OCI image layout: `oci-layout`, `index.json` (tags as ref.name annotations), `blobs/sha256/<hex>`. */
export function writeOciLayout(dir: string, images: { image: BuiltImage; tag?: string }[]): void {
  const blobDir = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobDir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const manifests = [];
  for (const { image, tag } of images) {
    for (const [digest, bytes] of image.blobs) fs.writeFileSync(path.join(blobDir, hexOf(digest)), bytes);
    fs.writeFileSync(path.join(blobDir, hexOf(image.manifestDigest)), image.manifestBytes);
    manifests.push({
      mediaType: image.manifestMediaType,
      digest: image.manifestDigest,
      size: image.manifestBytes.length,
      platform: { ...image.platform },
      ...(tag !== undefined ? { annotations: { 'org.opencontainers.image.ref.name': tag } } : {}),
    });
  }
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
}

/** The classic `docker save` tar: manifest.json, repositories, `<config hex>.json`, uncompressed `<hex>/layer.tar`. */
export async function writeDockerArchive(file: string, image: BuiltImage, repoTag: string): Promise<void> {
  const configName = `${hexOf(image.configDigest)}.json`;
  const entries: FixtureEntry[] = [{ name: configName, content: image.configBytes }];
  const layerNames: string[] = [];
  for (const l of image.layers) {
    const id = hexOf(l.diffId);
    layerNames.push(`${id}/layer.tar`);
    entries.push({ name: `${id}/`, type: 'directory' }, { name: `${id}/layer.tar`, content: l.tar });
  }
  const colon = repoTag.lastIndexOf(':');
  const repo = colon > repoTag.lastIndexOf('/') ? repoTag.slice(0, colon) : repoTag;
  const tag = colon > repoTag.lastIndexOf('/') ? repoTag.slice(colon + 1) : 'latest';
  const lastLayer = layerNames.length ? hexOf(image.layers[image.layers.length - 1].diffId) : '';
  entries.push(
    { name: 'manifest.json', content: JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: layerNames }]) },
    { name: 'repositories', content: JSON.stringify({ [repo]: { [tag]: lastLayer } }) },
  );
  fs.writeFileSync(file, await makeTar(entries));
}

// ---- layer contents ----

const BUSYBOX_APPLETS = ['sh', 'cat', 'ls', 'echo', 'test', 'id', 'env', 'stat', 'uname', 'pwd', 'sleep'];
let busyboxBytes: Buffer | undefined;

/** A minimal userland: the host's static busybox (busybox-static) plus applet symlinks and the usual dirs. */
export function busyboxEntries(): FixtureEntry[] {
  busyboxBytes ??= fs.readFileSync('/bin/busybox');
  return [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', content: busyboxBytes, mode: 0o755 },
    ...BUSYBOX_APPLETS.map((a): FixtureEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 })),
    { name: 'etc/', type: 'directory' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'root/', type: 'directory', mode: 0o700 },
    { name: 'proc/', type: 'directory', mode: 0o555 },
    { name: 'sys/', type: 'directory', mode: 0o555 },
    { name: 'dev/', type: 'directory' },
  ];
}

/**
 * Images whose later layers try to write outside the rootfs. Each starts with the busybox layer so it is
 * otherwise runnable; a safe unpacker must leave the host untouched (file names say which trick got through).
 */
export function maliciousLayers(): Record<string, LayerSpec[]> {
  const base = (): LayerSpec => ({ entries: busyboxEntries() });
  return {
    dotdot: [base(), { entries: [{ name: '../../escape-dotdot', content: 'escaped\n' }] }],
    absSymlinkWrite: [
      base(),
      {
        entries: [
          { name: 'etc/evil', type: 'symlink', linkname: '/tmp' },
          { name: 'etc/evil/escape-symlink', content: 'escaped\n' },
        ],
      },
    ],
    relSymlinkWrite: [
      base(),
      {
        entries: [
          { name: 'etc/up', type: 'symlink', linkname: '../../../../..' },
          { name: 'etc/up/escape-relsymlink', content: 'escaped\n' },
        ],
      },
    ],
    hardlinkEscape: [base(), { entries: [{ name: 'bin/evil', type: 'link', linkname: '../../../../etc/passwd' }] }],
    absHardlink: [base(), { entries: [{ name: 'bin/evil', type: 'link', linkname: '/etc/passwd' }] }],
    symlinkInLowerThenWrite: [
      base(),
      { entries: [{ name: 'data', type: 'symlink', linkname: '/' }] },
      { entries: [{ name: 'data/escape-cross-layer', content: 'escaped\n' }] },
    ],
  };
}
