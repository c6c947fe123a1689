// The image-test fixtures work against a real registry: push, pull by tag, basic auth, the token flow, indexes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MANIFEST_ACCEPT,
  MEDIA,
  buildImage,
  buildIndex,
  busyboxEntries,
  maliciousLayers,
  pushImage,
  pushIndex,
  sha256,
  writeDockerArchive,
  writeOciLayout,
  type BuiltImage,
} from '../support/oci-builder.js';
import { startRegistry, startTokenAuthProxy, type TestRegistry } from '../support/registry.js';
import { makeTar } from '../support/tar-fixtures.js';
import tar from 'tar-stream';

const small = (name: string, arch = 'amd64') =>
  buildImage({ layers: [{ entries: [{ name: 'hello.txt', content: `hello ${name}\n` }] }], architecture: arch, config: { Cmd: ['/bin/sh'] } });

async function getManifest(base: string, ref: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/v2/${ref}`, { headers: { accept: MANIFEST_ACCEPT, ...headers } });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

async function tarNames(buf: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      names.push(h.name);
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return names;
}

describe('registry fixture', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('pushes an image and serves its manifest by tag, logging the requests', async () => {
    const img = await small('plain');
    reg.clearRequests();
    await pushImage(reg.url, 'test/plain', 'v1', img);
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
    reg.clearRequests();
    const { res, bytes } = await getManifest(reg.url, 'test/plain/manifests/v1');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(img.manifestDigest);
    expect(res.headers.get('content-type')).toBe(MEDIA.ociManifest);
    expect(sha256(bytes)).toBe(img.manifestDigest);
    const blob = await fetch(`${reg.url}/v2/test/plain/blobs/${img.configDigest}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(img.configBytes)).toBe(true);
    const reqs = await reg.waitForRequests((r) => r.length >= 2);
    expect(reqs).toEqual([
      { method: 'GET', path: '/v2/test/plain/manifests/v1', status: 200 },
      { method: 'GET', path: `/v2/test/plain/blobs/${img.configDigest}`, status: 200 },
    ]);
    // Re-pushing finds every blob present and uploads nothing.
    reg.clearRequests();
    await pushImage(reg.url, 'test/plain', 'v2', img);
    const again = await reg.waitForRequests((r) => r.some((x) => x.method === 'PUT'));
    expect(again.filter((r) => r.method === 'POST')).toEqual([]);
    expect(fs.readdirSync(reg.storageDir)).toContain('docker');
  });

  it('round-trips multi-arch OCI and Docker indexes', async () => {
    const imgs = [await small('amd', 'amd64'), await small('arm', 'arm64')];
    const docker = await Promise.all(
      ['amd64', 'arm64'].map((a) => buildImage({ layers: [{ entries: [{ name: 'a', content: a }] }], architecture: a, mediaTypes: 'docker' })),
    );
    for (const [kind, children] of [['oci', imgs], ['docker', docker]] as const) {
      const index = buildIndex(children as BuiltImage[], { mediaTypes: kind });
      await pushIndex(reg.url, 'test/multi', kind, children as BuiltImage[], index);
      const { res, bytes } = await getManifest(reg.url, `test/multi/manifests/${kind}`);
      expect(res.headers.get('content-type')).toBe(kind === 'oci' ? MEDIA.ociIndex : MEDIA.dockerManifestList);
      expect(res.headers.get('docker-content-digest')).toBe(index.indexDigest);
      const parsed = JSON.parse(bytes.toString());
      expect(parsed.manifests.map((m: any) => m.platform)).toEqual([
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
      ]);
      const child = await getManifest(reg.url, `test/multi/manifests/${parsed.manifests[1].digest}`);
      expect(child.res.status).toBe(200);
      expect(sha256(child.bytes)).toBe(children[1].manifestDigest);
    }
  });

  it('refuses anonymous requests with htpasswd and accepts the credentials', async () => {
    const auth = { user: 'alice', password: 's3cret' };
    const locked = await startRegistry({ htpasswd: auth });
    try {
      const img = await small('locked');
      const anon = await getManifest(locked.url, 'test/locked/manifests/v1');
      expect(anon.res.status).toBe(401);
      expect(anon.res.headers.get('www-authenticate')).toMatch(/^Basic /);
      await expect(pushImage(locked.url, 'test/locked', 'v1', img)).rejects.toThrow(/Basic/);
      await pushImage(locked.url, 'test/locked', 'v1', img, auth);
      const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
      const ok = await getManifest(locked.url, 'test/locked/manifests/v1', { authorization: basic });
      expect(ok.res.headers.get('docker-content-digest')).toBe(img.manifestDigest);
      const wrong = await getManifest(locked.url, 'test/locked/manifests/v1', { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` });
      expect(wrong.res.status).toBe(401);
    } finally {
      await locked.stop();
    }
  });

  it('token proxy: 401 + Bearer challenge, a token for good credentials, then the content', async () => {
    const auth = { user: 'bob', password: 'pw' };
    const proxy = await startTokenAuthProxy(reg, auth);
    try {
      const img = await small('token');
      await pushImage(proxy.url, 'test/token', 'v1', img, auth);
      const ping = await fetch(`${proxy.url}/v2/`);
      expect(ping.status).toBe(401);
      expect(ping.headers.get('www-authenticate')).toBe(`Bearer realm="${proxy.url}/token",service="test-registry"`);
      const anon = await getManifest(proxy.url, 'test/token/manifests/v1');
      expect(anon.res.status).toBe(401);
      const challenge = anon.res.headers.get('www-authenticate')!;
      expect(challenge).toBe(`Bearer realm="${proxy.url}/token",service="test-registry",scope="repository:test/token:pull"`);
      const tokenUrl = `${proxy.url}/token?service=test-registry&scope=repository:test/token:pull`;
      expect((await fetch(tokenUrl)).status).toBe(401);
      expect((await fetch(tokenUrl, { headers: { authorization: `Basic ${Buffer.from('bob:bad').toString('base64')}` } })).status).toBe(401);
      const tr = await fetch(tokenUrl, { headers: { authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}` } });
      const { token, access_token } = (await tr.json()) as { token: string; access_token: string };
      expect(access_token).toBe(token);
      const { res } = await getManifest(proxy.url, 'test/token/manifests/v1', { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(img.manifestDigest);
      // The push asked for a pull token first (HEAD), then a push token when the upload was refused.
      expect(proxy.tokenScopes().slice(0, 2)).toEqual(['repository:test/token:pull', 'repository:test/token:pull,push']);
      expect(proxy.requests().at(-1)).toEqual({ method: 'GET', path: '/v2/test/token/manifests/v1', status: 200 });
    } finally {
      await proxy.stop();
    }
  });
});

describe('oci builder', () => {
  it('writes an OCI layout and a docker-save archive', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-oci-builder-'));
    try {
      const img = await buildImage({ layers: [{ entries: busyboxEntries() }, { entries: [{ name: 'x', content: 'x' }], compression: 'none' }] });
      expect(img.config.rootfs.diff_ids).toEqual(img.layers.map((l) => sha256(l.tar)));
      expect(img.layers.map((l) => l.mediaType)).toEqual([MEDIA.ociLayerGzip, MEDIA.ociLayerTar]);
      writeOciLayout(path.join(dir, 'layout'), [{ image: img, tag: 'latest' }]);
      const index = JSON.parse(fs.readFileSync(path.join(dir, 'layout', 'index.json'), 'utf8'));
      expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('latest');
      expect(fs.readdirSync(path.join(dir, 'layout', 'blobs', 'sha256')).length).toBe(4);
      const archive = path.join(dir, 'img.tar');
      await writeDockerArchive(archive, img, 'example/busybox:1');
      const names = await tarNames(fs.readFileSync(archive));
      expect(names).toContain('manifest.json');
      expect(names).toContain(`${img.configDigest.slice(7)}.json`);
      expect(names).toContain(`${img.layers[0].diffId.slice(7)}/layer.tar`);
      // Every malicious image builds, and its hostile names survive into the tar unchanged.
      const evil = maliciousLayers();
      expect(await tarNames(await makeTar(evil.dotdot[1].entries))).toEqual(['../../escape-dotdot']);
      for (const layers of Object.values(evil)) await buildImage({ layers });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
