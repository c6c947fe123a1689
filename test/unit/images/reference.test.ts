// Image reference parsing: Docker Hub short names, registries with ports, tags, digests, local sources, bad input.
import { describe, expect, it } from 'vitest';
import { absolutizeImageRef, apiHost, parseImageRef, type RegistryRef } from '../../../src/images/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageRef', () => {
  it.each([
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.21', 'docker.io/library/alpine:3.21'],
    ['team/tool:1', 'docker.io/team/tool:1'],
    ['index.docker.io/library/alpine', 'docker.io/library/alpine:latest'],
    ['ghcr.io/org/img@' + D, 'ghcr.io/org/img@' + D],
    ['ghcr.io/org/img:v1@' + D, 'ghcr.io/org/img:v1@' + D],
    ['127.0.0.1:5000/test/tool:1', '127.0.0.1:5000/test/tool:1'],
    ['localhost/tool', 'localhost/tool:latest'],
    ['[::1]:5000/a/b', '[::1]:5000/a/b:latest'],
    ['reg.example.com/a__b/c-d.e/f_g:tag-1.0', 'reg.example.com/a__b/c-d.e/f_g:tag-1.0'],
  ])('%s → %s', (input, canonical) => {
    expect(parseImageRef(input).canonical).toBe(canonical);
  });

  it('splits registry, repository, tag and digest; Hub refs go to its API host', () => {
    const r = parseImageRef('alpine:3.21') as RegistryRef;
    expect(r).toMatchObject({ kind: 'registry', registry: 'docker.io', repository: 'library/alpine', tag: '3.21' });
    expect(apiHost(r)).toBe('registry-1.docker.io');
    expect(apiHost(parseImageRef('127.0.0.1:5000/x') as RegistryRef)).toBe('127.0.0.1:5000');
  });

  it.each([
    ['', /repository must be lowercase/],
    ['Alpine', /repository must be lowercase/],
    ['alpine:', /tag "" must be/],
    ['alpine:-x', /tag "-x" must be/],
    ['alpine@sha256:abc', /digest must be sha256/],
    ['a b', /contains whitespace/],
    ['reg..com/x', /registry host/],
    ['team//tool', /repository must be lowercase/],
  ])('refuses %j', (input, why) => {
    expect(() => parseImageRef(input)).toThrow(why);
  });

  it('reads oci: and docker-archive: refs with absolute paths only', () => {
    expect(parseImageRef('oci:/srv/layout:v1')).toMatchObject({ kind: 'oci-layout', dir: '/srv/layout', tag: 'v1' });
    expect(parseImageRef('oci:/srv/layout')).toMatchObject({ kind: 'oci-layout', dir: '/srv/layout', canonical: 'oci:/srv/layout' });
    expect(parseImageRef('oci:/srv/a:b/c')).toMatchObject({ dir: '/srv/a:b/c' });
    expect(parseImageRef('docker-archive:/tmp/x.tar')).toMatchObject({ kind: 'docker-archive', file: '/tmp/x.tar' });
    expect(() => parseImageRef('oci:rel')).toThrow(/absolute path/);
    expect(() => parseImageRef('docker-archive:x.tar')).toThrow(/absolute path/);
  });

  it('absolutizes local refs against a directory and leaves registry refs alone', () => {
    expect(absolutizeImageRef('oci:./l:v1', '/home/u')).toBe('oci:/home/u/l:v1');
    expect(absolutizeImageRef('docker-archive:x.tar', '/home/u')).toBe('docker-archive:/home/u/x.tar');
    expect(absolutizeImageRef('oci:/abs', '/home/u')).toBe('oci:/abs');
    expect(absolutizeImageRef('alpine:3', '/home/u')).toBe('alpine:3');
  });
});
