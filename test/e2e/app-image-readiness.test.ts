// An app is Ready only when its image resolves: the ImageResolved condition, fed by a real registry, with the
// registry's error as the reason's message, retried until the image appears.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage, type BuiltImage } from '../support/oci-builder.js';
import { startRegistry, startTokenAuthProxy, type TestRegistry, type TokenAuthProxy } from '../support/registry.js';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const manifest = (name: string, image: string) => `apiVersion: aegis.dev/v1
kind: App
metadata: {name: ${name}}
spec:
  image: ${image}
  command: [sleep, '1000']
`;

type Condition = { type: string; status: string; reason: string; message: string };

describe('app readiness follows its image', () => {
  let t: TempHome;
  let registry: TestRegistry;
  let proxy: TokenAuthProxy;
  let image: BuiltImage;
  const password = 'pw-never-shown-4f2a';

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startTokenAuthProxy(registry, { user: 'ci', password: 'the-right-one' });
    image = await buildImage({ layers: [{ entries: busyboxEntries() }] });
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    // A login the token service refuses: its password must never reach a condition.
    const dockerDir = path.join(t.home, 'docker');
    fs.mkdirSync(dockerDir);
    fs.writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from(`ci:${password}`).toString('base64') } } }));
    t.env.DOCKER_CONFIG = dockerDir;
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
    await proxy?.stop();
    await registry?.stop();
  });

  const conditions = async (app: string): Promise<Record<string, Condition>> => {
    const items = ((await t.api('GET', `/v1/apps/${app}`)).body?.status?.conditions ?? []) as Condition[];
    return Object.fromEntries(items.map((c) => [c.type, c]));
  };
  const apply = async (name: string, ref: string) => {
    const file = path.join(t.home, `${name}.yaml`);
    fs.writeFileSync(file, manifest(name, ref));
    expect(await t.aegis(['apply', '-f', file])).toMatchObject({ code: 0, stdout: `app/${name} created\n` });
  };

  it('is Ready=False ImageUnavailable with the registry error until the image is pushed, then Ready', async () => {
    const ref = `${registry.host}/test/late:1`;
    await apply('late', ref);
    // Far sooner than the 60 s resync: the first reconcile after the apply resolves.
    const first = await waitFor(async () => {
      const c = await conditions('late');
      return c.ImageResolved && c;
    }, { what: 'the ImageResolved condition' });
    const why = `registry ${registry.host} has no manifest 1 in test/late (MANIFEST_UNKNOWN: manifest unknown)`;
    expect(first.ImageResolved).toMatchObject({ status: 'False', reason: 'ImageUnavailable', message: why });
    expect(first.Ready).toMatchObject({ status: 'False', reason: 'ImageUnavailable', message: why });
    expect((await t.aegis(['get', 'apps'])).stdout).toMatch(/\nlate +False +ImageUnavailable +\d+s\n/);
    expect((await t.aegis(['describe', 'app', 'late'])).stdout).toContain(`ImageResolved=False  ImageUnavailable: ${why}  (since `);
    expect((await t.aegis(['app', 'info', 'late'])).stdout).toContain(`Status:  ImageUnavailable: ${why}`);

    // Nothing in the store changes when the image appears: only the controller's retry can notice it.
    await pushImage(registry.url, 'test/late', '1', image);
    registry.clearRequests();
    const ready = await waitFor(async () => {
      const c = await conditions('late');
      return c.Ready?.status === 'True' && c;
    }, { what: 'the app to become Ready after the push' });
    expect(ready.ImageResolved).toMatchObject({ status: 'True', reason: 'Resolved', message: `${ref} is ${image.manifestDigest}` });
    expect((await t.aegis(['get', 'apps', 'late'])).stdout).toMatch(/\nlate +True +Ready +\d+s\n/);
    // Resolving asked for the manifest's headers alone: no manifest body, no blob, nothing in the cache.
    const asked = registry.requests();
    expect(asked.filter((r) => r.path === '/v2/test/late/manifests/1').map((r) => r.method)).toContain('HEAD');
    expect(asked.filter((r) => r.path.includes('/blobs/') || r.method !== 'HEAD')).toEqual([]);
    expect((await t.aegis(['image', 'list'])).stdout).not.toContain('test/late');
  });

  it('names an unreachable registry and a refused login in one line, without the password', async () => {
    await apply('unreachable', '127.0.0.1:1/test/web:1');
    await apply('refused', `${proxy.host}/test/web:1`);
    const [down, refused] = await waitFor(async () => {
      const both = [(await conditions('unreachable')).Ready, (await conditions('refused')).Ready];
      return both.every((c) => c?.reason === 'ImageUnavailable') && both;
    }, { what: 'both apps ImageUnavailable' });
    expect(down!.message).toBe('cannot reach registry 127.0.0.1:1: connection refused');
    expect(refused!.message).toBe(`registry ${proxy.host} refused the credentials for test/web (token service answered 401)`);
    const all = (await t.aegis(['get', 'apps', '-o', 'json'])).stdout + (await t.aegis(['describe', 'app', 'refused'])).stdout;
    expect(all).not.toContain(password);
    expect(all).not.toContain(Buffer.from(`ci:${password}`).toString('base64'));
  });
});
