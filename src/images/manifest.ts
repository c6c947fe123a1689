// OCI and Docker v2 manifests, indexes and image configs: what a pull reads, validated at the boundary.
import os from 'node:os';
import { z } from 'zod';
import { invalid, notSupported } from '../errors/codes.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** What a registry may answer for a tag, best first. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be a sha256 digest');

export const descriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  platform: z.looseObject({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const imageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});

export const imageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});

export const imageConfigSchema = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  config: z
    .looseObject({
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
      ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
    })
    .nullish(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(digestSchema) }).optional(),
});

export type Descriptor = z.infer<typeof descriptorSchema>;
export type ImageManifest = z.infer<typeof imageManifestSchema>;
export type ImageIndex = z.infer<typeof imageIndexSchema>;
export type ImageConfig = z.infer<typeof imageConfigSchema>;

export type ParsedManifest = { kind: 'index'; index: ImageIndex } | { kind: 'image'; manifest: ImageManifest };

/** Parses manifest bytes; the media type comes from the body when present, else from the HTTP header. */
export function parseManifest(bytes: Buffer, headerType: string | undefined, what: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`${what}: the manifest is not valid JSON`);
  }
  const bodyType = typeof json === 'object' && json !== null && typeof (json as { mediaType?: unknown }).mediaType === 'string' ? (json as { mediaType: string }).mediaType : undefined;
  const type = bodyType ?? headerType?.split(';')[0]?.trim();
  const isIndex = type === MEDIA.ociIndex || type === MEDIA.dockerList || (type === undefined && Array.isArray((json as { manifests?: unknown }).manifests));
  if (isIndex) {
    const r = imageIndexSchema.safeParse(json);
    if (!r.success) throw invalid(`${what}: malformed image index (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`);
    return { kind: 'index', index: r.data };
  }
  if (type !== undefined && type !== MEDIA.ociManifest && type !== MEDIA.dockerManifest) {
    throw notSupported(`${what}: manifest type ${type} is not supported (Docker schema 1 and other formats are not)`);
  }
  const r = imageManifestSchema.safeParse(json);
  if (!r.success) throw invalid(`${what}: malformed image manifest (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`);
  return { kind: 'image', manifest: r.data };
}

export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`${what}: the image config is not valid JSON`);
  }
  const r = imageConfigSchema.safeParse(json);
  if (!r.success) throw invalid(`${what}: malformed image config (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`);
  return r.data;
}

/** The host as OCI names it (`linux/amd64`, `linux/arm64`). */
export function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[os.arch()] ?? os.arch() };
}

const platformName = (p: { os?: string; architecture?: string; variant?: string | undefined }) => `${p.os ?? '?'}/${p.architecture ?? '?'}${p.variant ? `/${p.variant}` : ''}`;

/** The index entry for this host; refuses an index without one, naming what it offers. */
export function selectPlatform(index: ImageIndex, what: string, host = hostPlatform()): Descriptor {
  const images = index.manifests.filter((m) => m.mediaType !== 'application/vnd.oci.image.index.v1+json');
  const match = images.find((m) => m.platform?.os === host.os && m.platform.architecture === host.architecture);
  if (match) return match;
  // Attestation manifests (buildx) carry platform unknown/unknown; they are not images for any host.
  const offered = images.filter((m) => m.platform && m.platform.os !== 'unknown').map((m) => platformName(m.platform!));
  throw notSupported(`${what} has no image for ${platformName(host)} (it offers ${offered.length ? offered.join(', ') : 'no platforms'})`);
}

/** Refuses a single-platform image built for another OS or architecture. */
export function assertRunsHere(config: ImageConfig, what: string, host = hostPlatform()): void {
  const osOk = !config.os || config.os === host.os;
  const archOk = !config.architecture || config.architecture === host.architecture;
  if (!osOk || !archOk) throw notSupported(`${what} is built for ${platformName(config)}, but this host is ${platformName(host)}`);
}
