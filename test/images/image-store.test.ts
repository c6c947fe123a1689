// ImageStore against a real registry (Debian's docker-registry): pull, cache hits without the network, platform
// selection, auth, every failure a one-line error with nothing half-written, local sources, malicious images.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAegisError, type AegisError } from '../../src/errors/codes.js';
import { ImageStore } from '../../src/images/image-store.js';
import { buildImage, buildIndex, busyboxEntries, maliciousLayers, pushImage, pushIndex, writeDockerArchive, writeOciLayout, type BuiltImage } from '../support/oci-builder.js';
import { startRegistry, startTokenAuthProxy, type TestRegistry } from '../support/registry.js';

const FAST_RETRY = { attempts: 2, delayMs: 10 };

let registry: TestRegistry;
let work: string;
let tool: BuiltImage;

function newStore(opts: ConstructorParameters<typeof ImageStore>[1] = {}): ImageStore {
  return new ImageStore(fs.mkdtempSync(path.join(work, 'cache-')), { retry: FAST_RETRY, dockerConfigFile: path.join(work, 'no-docker-config.json'), ...opts });
}

async function failure(p: Promise<unknown>): Promise<AegisError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isAegisError(err), `expected an AegisError, got ${String(err)}`).toBe(true);
  const e = err as AegisError;
  expect(e.message).not.toContain('\n');
  return e;
}

/** Every file under `dir`, relative, for "nothing half-written" checks. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-imgstore-'));
  registry = await startRegistry();
  tool = await buildImage({
    layers: [
      { entries: busyboxEntries() },
      { entries: [{ name: 'etc/marker', content: 'marker-v1\n' }, { name: 'etc/gone', content: 'x' }], compression: 'zstd' },
      { entries: [{ name: 'etc/.wh.gone', content: '' }], compression: 'none' },
    ],
    config: { Env: ['PATH=/bin', 'TOOL=yes'], WorkingDir: '/etc', Cmd: ['sh'] },
  });
  await pushImage(registry.url, 'test/tool', '1', tool);
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('pull from a registry', () => {
  it('pulls every layer, verifies it, unpacks it and records the ref; a second pull needs no request', async () => {
    const store = newStore();
    const progress: string[] = [];
    const image = await store.pull(`${registry.host}/test/tool:1`, { onProgress: (p) => progress.push(p.phase) });
    expect(image.ref).toBe(`${registry.host}/test/tool:1`);
    expect(image.digest).toBe(tool.manifestDigest);
    expect(image.layers).toEqual(tool.layers.map((l) => l.digest));
    expect(image.config).toEqual({ env: ['PATH=/bin', 'TOOL=yes'], entrypoint: [], cmd: ['sh'], workingDir: '/etc' });
    expect(fs.readFileSync(path.join(image.layerDirs[1]!, 'etc/marker'), 'utf8')).toBe('marker-v1\n');
    // The whiteout is in overlayfs form (a 0/0 character device) in the top layer.
    expect(fs.lstatSync(path.join(image.layerDirs[2]!, 'etc/gone')).isCharacterDevice()).toBe(true);
    expect(progress[0]).toBe('resolving');
    expect(progress.at(-1)).toBe('done');
    expect(store.list().map((r) => r.ref)).toEqual([image.ref]);

    registry.clearRequests();
    const again = await store.pull(`${registry.host}/test/tool:1`);
    expect(again.digest).toBe(image.digest);
    await new Promise((r) => setTimeout(r, 200));
    expect(registry.requests()).toEqual([]);
  });

  it('with policy always asks for the manifest again but downloads no layer it has', async () => {
    const store = newStore();
    await store.pull(`${registry.host}/test/tool:1`);
    registry.clearRequests();
    await store.pull(`${registry.host}/test/tool:1`, { policy: 'always' });
    const reqs = await registry.waitForRequests((r) => r.some((q) => q.path.includes('/manifests/')));
    expect(reqs.filter((q) => q.path.includes('/blobs/'))).toEqual([]);
  });

  it('policy never refuses an image that is not cached', async () => {
    const e = await failure(newStore().pull(`${registry.host}/test/tool:1`, { policy: 'never' }));
    expect(e.code).toBe('AEGIS_NOT_FOUND');
    expect(e.message).toContain('not in the cache');
  });

  it('picks the host platform from a multi-arch index and refuses a single-arch image for another one', async () => {
    const amd = await buildImage({ layers: [{ entries: [{ name: 'arch', content: 'amd64\n' }] }], architecture: 'amd64' });
    const arm = await buildImage({ layers: [{ entries: [{ name: 'arch', content: 'arm64\n' }] }], architecture: 'arm64' });
    const index = buildIndex([arm, amd]);
    await pushIndex(registry.url, 'test/multi', '1', [arm, amd], index);
    await pushImage(registry.url, 'test/armonly', '1', arm);
    const store = newStore();
    const image = await store.pull(`${registry.host}/test/multi:1`);
    expect(image.digest).toBe(amd.manifestDigest);
    expect(image.indexDigest).toBe(index.indexDigest);
    expect(fs.readFileSync(path.join(image.layerDirs[0]!, 'arch'), 'utf8')).toBe('amd64\n');

    const e = await failure(store.pull(`${registry.host}/test/armonly:1`));
    expect(e.message).toMatch(/built for linux\/arm64, but this host is linux\/amd64/);
    const armIndex = buildIndex([arm]);
    await pushIndex(registry.url, 'test/armindex', '1', [arm], armIndex);
    expect((await failure(store.pull(`${registry.host}/test/armindex:1`))).message).toMatch(/no image for linux\/amd64 \(it offers linux\/arm64\)/);
  });

  it('names the cause of each failure in one line and leaves nothing half-written', async () => {
    const store = newStore();
    expect((await failure(store.pull('Bad Ref'))).code).toBe('AEGIS_INVALID');
    expect((await failure(store.pull('UPPER/case:1'))).message).toMatch(/^invalid image reference "UPPER\/case:1": the repository must be lowercase/);
    const unknownTag = await failure(store.pull(`${registry.host}/test/tool:nope`));
    expect(unknownTag.code).toBe('AEGIS_NOT_FOUND');
    expect(unknownTag.message).toContain('manifest nope');
    expect((await failure(store.pull(`${registry.host}/test/nothing:1`))).message).toMatch(/has no repository test\/nothing|has no manifest 1/);
    const down = await failure(store.pull('127.0.0.1:1/test/tool:1'));
    expect(down.code).toBe('AEGIS_UPSTREAM');
    expect(down.message).toBe('cannot reach registry 127.0.0.1:1: connection refused');
    expect(filesUnder(store.root).filter((f) => f !== 'refs.json')).toEqual([]);
  });

  it('refuses a blob whose bytes do not match its digest, keeping no trace of it', async () => {
    const victim = await buildImage({ layers: [{ entries: [{ name: 'file', content: 'original content\n' }] }] });
    await pushImage(registry.url, 'test/corrupt', '1', victim);
    const hex = victim.layers[0]!.digest.slice(7);
    const data = path.join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = fs.readFileSync(data);
    bytes[bytes.length - 5] ^= 0xff;
    fs.writeFileSync(data, bytes);
    const store = newStore();
    const e = await failure(store.pull(`${registry.host}/test/corrupt:1`));
    expect(e.code).toBe('AEGIS_UPSTREAM');
    expect(e.message).toContain(`digest mismatch (expected ${victim.layers[0]!.digest}`);
    expect(store.list()).toEqual([]);
    expect(filesUnder(store.root).filter((f) => !f.startsWith('blobs/'))).toEqual([]);
    expect(fs.existsSync(path.join(store.root, 'blobs/sha256', hex))).toBe(false);
  });
});

/** A proxy to the registry that cuts the first blob download longer than `cutAfter` bytes there, recording Range headers. */
async function cuttingProxy(upstream: TestRegistry, cutAfter: number) {
  const ranges: (string | undefined)[] = [];
  let cut = false;
  const server = http.createServer((req, res) => {
    const isBlob = req.url!.includes('/blobs/sha256:');
    if (isBlob) ranges.push(req.headers.range);
    const up = http.request(`${upstream.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: upstream.host } }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      if (!isBlob || cut || ur.statusCode !== 200 || Number(ur.headers['content-length']) <= cutAfter) return void ur.pipe(res);
      cut = true;
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent >= cutAfter) return;
        res.write(c.subarray(0, cutAfter - sent));
        sent += Math.min(c.length, cutAfter - sent);
        if (sent >= cutAfter) setTimeout(() => res.socket?.destroy(), 50);
      });
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { host, ranges, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('interrupted downloads', () => {
  it('keep their partial blob outside the cache and the next pull resumes it with a Range request', async () => {
    const big = await buildImage({ layers: [{ entries: [{ name: 'big', content: Buffer.from(Array.from({ length: 400_000 }, (_, i) => (i * 7919) % 251)) }], compression: 'none' }] });
    await pushImage(registry.url, 'test/big', '1', big);
    const proxy = await cuttingProxy(registry, 100_000);
    try {
      const root = fs.mkdtempSync(path.join(work, 'cache-'));
      const once = new ImageStore(root, { retry: { attempts: 1, delayMs: 10 }, dockerConfigFile: path.join(work, 'none.json') });
      const e = await failure(once.pull(`${proxy.host}/test/big:1`));
      expect(e.code).toBe('AEGIS_UPSTREAM');
      expect(once.list()).toEqual([]);
      const partial = fs.readdirSync(path.join(root, 'incoming'));
      expect(partial).toEqual([`${big.layers[0]!.digest.slice(7)}.partial`]);
      expect(fs.statSync(path.join(root, 'incoming', partial[0]!)).size).toBe(100_000);
      expect(fs.readdirSync(path.join(root, 'layers/sha256'))).toEqual([]);

      const image = await once.pull(`${proxy.host}/test/big:1`);
      expect(image.digest).toBe(big.manifestDigest);
      expect(proxy.ranges.filter((r) => r !== undefined)).toEqual(['bytes=100000-']);
      expect(fs.readdirSync(path.join(root, 'incoming'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('registry auth', () => {
  let basic: TestRegistry;
  const configFile = () => path.join(work, 'docker-config.json');

  beforeAll(async () => {
    basic = await startRegistry({ htpasswd: { user: 'alice', password: 's3cret' } });
    await pushImage(basic.url, 'test/tool', '1', tool, { user: 'alice', password: 's3cret' });
  }, 30_000);
  afterAll(async () => basic?.stop());

  const writeLogin = (host: string, user: string, password: string) =>
    fs.writeFileSync(configFile(), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));

  it('uses basic credentials from the docker config, and says when they are missing or wrong', async () => {
    const noLogin = await failure(newStore().pull(`${basic.host}/test/tool:1`));
    expect(noLogin.message).toBe(`registry ${basic.host} requires a login for test/tool: add credentials with \`docker login ${basic.host}\``);
    writeLogin(basic.host, 'alice', 'wrong');
    const wrong = await failure(newStore({ dockerConfigFile: configFile() }).pull(`${basic.host}/test/tool:1`));
    expect(wrong.message).toMatch(/refused the credentials for test\/tool/);
    expect(wrong.message).not.toContain('wrong');
    writeLogin(basic.host, 'alice', 's3cret');
    const image = await newStore({ dockerConfigFile: configFile() }).pull(`${basic.host}/test/tool:1`);
    expect(image.digest).toBe(tool.manifestDigest);
  });

  it('follows the bearer token flow, with and without credentials', async () => {
    const open = await startTokenAuthProxy(registry, {});
    const locked = await startTokenAuthProxy(registry, { user: 'bob', password: 'pw' });
    try {
      expect((await newStore().pull(`${open.host}/test/tool:1`)).digest).toBe(tool.manifestDigest);
      expect(open.requests().some((r) => r.path.startsWith('/token'))).toBe(true);
      expect((await failure(newStore().pull(`${locked.host}/test/tool:1`))).message).toMatch(/requires a login for test\/tool/);
      writeLogin(locked.host, 'bob', 'pw');
      expect((await newStore({ dockerConfigFile: configFile() }).pull(`${locked.host}/test/tool:1`)).digest).toBe(tool.manifestDigest);
    } finally {
      await open.stop();
      await locked.stop();
    }
  });
});

describe('local sources', () => {
  it('reads an OCI layout by tag and a docker save archive, with the same layers as the registry image', async () => {
    const layout = path.join(work, 'layout');
    writeOciLayout(layout, [{ image: tool, tag: 'v1' }]);
    const store = newStore();
    const fromLayout = await store.pull(`oci:${layout}:v1`);
    expect(fromLayout.digest).toBe(tool.manifestDigest);
    expect((await failure(store.pull(`oci:${layout}:v2`))).message).toBe(`${layout} has no image tagged v2 (tags: v1)`);

    const archive = path.join(work, 'tool.tar');
    await writeDockerArchive(archive, tool, 'test/tool:1');
    const fromArchive = await store.pull(`docker-archive:${archive}`);
    expect(fromArchive.layers).toEqual(tool.layers.map((l) => l.diffId));
    expect(fs.readFileSync(path.join(fromArchive.layerDirs[1]!, 'etc/marker'), 'utf8')).toBe('marker-v1\n');
    expect(fromArchive.config.env).toEqual(['PATH=/bin', 'TOOL=yes']);
    expect((await failure(store.pull('oci:relative/dir'))).message).toContain('must be an absolute path');
  });
});

describe('malicious images', () => {
  const { symlinkInLowerThenWrite, ...refused } = maliciousLayers();
  const noEscapes = () => {
    for (const f of ['/escape-dotdot', '/escape-cross-layer', '/tmp/escape-symlink', '/escape-relsymlink']) expect(fs.existsSync(f), f).toBe(false);
  };

  it.each(Object.entries(refused))('refuses %s with an error naming the entry, writing nothing outside the cache', async (name, layers) => {
    const image = await buildImage({ layers });
    await pushImage(registry.url, `evil/${name.toLowerCase()}`, '1', image);
    const store = newStore();
    const e = await failure(store.pull(`${registry.host}/evil/${name.toLowerCase()}:1`));
    expect(e.message).toMatch(/refused: layer sha256:[0-9a-f]{12}: /);
    expect(e.message).toMatch(/escape|evil/);
    noEscapes();
    expect(store.list()).toEqual([]);
    // Only the busybox layer (safe, complete) may stay in the cache; no temp dirs, no partial downloads.
    expect(fs.readdirSync(path.join(store.root, 'layers/sha256')).every((f) => /^[a-f0-9]{64}$/.test(f))).toBe(true);
    expect(fs.readdirSync(path.join(store.root, 'incoming'))).toEqual([]);
  });

  it('keeps layers apart, so a symlink in a lower layer cannot redirect a write of an upper one', async () => {
    const image = await buildImage({ layers: symlinkInLowerThenWrite! });
    await pushImage(registry.url, 'evil/crosslayer', '1', image);
    const pulled = await newStore().pull(`${registry.host}/evil/crosslayer:1`);
    noEscapes();
    // Each layer is its own directory: the upper layer's `data` is a real directory that hides the lower symlink.
    expect(fs.lstatSync(path.join(pulled.layerDirs[1]!, 'data')).isSymbolicLink()).toBe(true);
    expect(fs.lstatSync(path.join(pulled.layerDirs[2]!, 'data')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(pulled.layerDirs[2]!, 'data/escape-cross-layer'), 'utf8')).toBe('escaped\n');
  });
});
