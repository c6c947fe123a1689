// Image references as users type them: registry refs (`alpine:3.21`, `127.0.0.1:5000/team/tool@sha256:…`),
// `oci:DIR[:TAG]` (an OCI image layout) and `docker-archive:FILE` (`docker save` output).
import path from 'node:path';
import { invalid } from '../errors/codes.js';

export const DOCKER_HUB = 'docker.io';
/** Docker Hub's API host: `docker.io` names the registry, this host serves it. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface RegistryRef {
  kind: 'registry';
  /** Host[:port] as written, `docker.io` for Docker Hub. */
  registry: string;
  /** Path inside the registry, `library/alpine` for Hub short names. */
  repository: string;
  tag?: string;
  digest?: string;
  /** Fully qualified form, the key of the ref index: `docker.io/library/alpine:3.21`. */
  canonical: string;
}

export interface OciLayoutRef {
  kind: 'oci-layout';
  dir: string;
  tag?: string;
  canonical: string;
}

export interface DockerArchiveRef {
  kind: 'docker-archive';
  file: string;
  canonical: string;
}

export type ImageRef = RegistryRef | OciLayoutRef | DockerArchiveRef;

// The distribution spec's grammar: lowercase components joined by '.', '_', '__' or runs of '-'.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$/;

/**
 * Parses `ref`. Paths in `oci:` and `docker-archive:` refs must be absolute (the CLI resolves them
 * against its own working directory with `absolutizeImageRef` before sending them to the daemon).
 */
export function parseImageRef(ref: string): ImageRef {
  const bad = (why: string) => invalid(`invalid image reference ${JSON.stringify(ref)}: ${why}`);
  if (ref.startsWith('oci:')) {
    const rest = ref.slice(4);
    // `oci:DIR:TAG`: the tag is after the last ':' unless that part looks like a path.
    const colon = rest.lastIndexOf(':');
    const [dir, tag] = colon > 0 && !rest.slice(colon + 1).includes('/') ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, undefined];
    if (!dir) throw bad('oci: needs a directory');
    if (!path.isAbsolute(dir)) throw bad('the oci: directory must be an absolute path');
    if (tag !== undefined && !TAG.test(tag)) throw bad(`tag ${JSON.stringify(tag)} is not valid`);
    const norm = path.resolve(dir);
    return { kind: 'oci-layout', dir: norm, ...(tag ? { tag } : {}), canonical: `oci:${norm}${tag ? `:${tag}` : ''}` };
  }
  if (ref.startsWith('docker-archive:')) {
    const file = ref.slice('docker-archive:'.length);
    if (!file) throw bad('docker-archive: needs a file');
    if (!path.isAbsolute(file)) throw bad('the docker-archive: file must be an absolute path');
    const norm = path.resolve(file);
    return { kind: 'docker-archive', file: norm, canonical: `docker-archive:${norm}` };
  }
  if (ref.length > 512) throw bad('longer than 512 characters');
  if (/\s/.test(ref)) throw bad('contains whitespace');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('the digest must be sha256: followed by 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw bad(`tag ${JSON.stringify(tag)} must be letters, digits, '_', '.' or '-' (at most 128, not starting with '.' or '-')`);
  }
  const parts = rest.split('/');
  // Like docker: the first part is a registry host when it has a '.' or ':' or is localhost.
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === 'localhost' || parts[0]!.startsWith('['))) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw bad(`registry host ${JSON.stringify(registry)} is not valid`);
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad('the repository must be lowercase letters, digits and separators (., _, __, -) in /-separated parts');
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw bad('the repository name is longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  const canonical = `${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { kind: 'registry', registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), canonical };
}

/** Resolves the path of an `oci:` or `docker-archive:` ref against `cwd`; registry refs pass unchanged. */
export function absolutizeImageRef(ref: string, cwd: string): string {
  for (const prefix of ['oci:', 'docker-archive:']) {
    if (ref.startsWith(prefix) && ref.length > prefix.length && !path.isAbsolute(ref.slice(prefix.length))) {
      return prefix + path.resolve(cwd, ref.slice(prefix.length));
    }
  }
  return ref;
}

/** The host serving a registry's API (Docker Hub's differs from its name). */
export const apiHost = (ref: RegistryRef): string => (ref.registry === DOCKER_HUB ? DOCKER_HUB_API : ref.registry);
