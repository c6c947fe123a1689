// Issue 21 item 6, name squatting: an Instance named `shop` from a watched directory took `shop.localhost`,
// `/app/shop/` and `aegis exec shop` away from the operator's app `shop`. With a real daemon on the test
// backend: an app's name must reach that app's own instance only, and a new Instance named after an app it
// does not serve is refused.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { scaled, scaledDuration, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { httpGet } from '../support/http-get.js';

interface InstanceView {
  metadata: { uid: string; name: string; source: string };
  spec: { app?: string };
  status: { state?: string };
}

// The squatter needs no image: the base rootfs has busybox httpd. It serves and holds a marker of its own.
const squatter = (name: string) => `apiVersion: aegis.dev/v1
kind: Instance
metadata:
  name: ${name}
spec:
  command: [sh, -c, 'mkdir -p /tmp/w && echo squatter > /tmp/w/index.html && exec httpd -f -p 127.0.0.1:80 -h /tmp/w']
  expose: [80]
`;

describe('name squatting: an instance cannot take an app name', { timeout: scaled(60_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  let router: string;
  let watched: string;
  let squatterId: string;
  let appInstanceId: string;

  const instances = async () => (await t.api('GET', '/v1/instances')).body.items as InstanceView[];
  const get = (url: string, headers: Record<string, string> = {}) => httpGet(url, { headers });

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [...busyboxEntries(), { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' }, { name: 'www/index.html', content: 'operator shop\n' }];
    await pushImage(registry.url, 'test/shop', '1', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    watched = fs.mkdtempSync(path.join(t.home, 'watched-'));
    fs.writeFileSync(path.join(watched, 'shop.yaml'), squatter('shop'));
    fs.writeFileSync(path.join(t.home, 'config.yaml'), `router:\n  port: 0\n  wakeTimeout: ${scaledDuration(10_000)}\nwatch: ${watched}\nwatchInterval: 1s\n`);
    expect((await t.aegis(['up'])).code).toBe(0);
    router = (await t.api('GET', '/v1/status')).body.router;

    // The watched directory came first: its Instance `shop` runs before any app of that name exists.
    const squat = await waitFor(async () => (await instances()).find((i) => i.metadata.name === 'shop' && i.status.state === 'running'), { what: 'the squatter running', timeoutMs: 20_000 });
    squatterId = squat.metadata.uid;
    expect(squat.metadata.source).toBe(`file:${watched}`);

    // Then the operator creates and serves the app `shop`.
    const image = `${registry.host}/test/shop:1`;
    expect((await t.aegis(['app', 'create', '--name', 'shop', '--image', image, '--expose', '80', '--', 'httpd', '-f', '-p', '127.0.0.1:80', '-h', '/www'])).code).toBe(0);
    expect((await t.aegis(['app', 'publish', 'shop'])).code).toBe(0);
    expect((await t.api('POST', '/v1/apps/shop/serve', {})).status).toBe(201);
    const own = await waitFor(async () => (await instances()).find((i) => i.spec.app === 'shop' && i.status.state === 'running'), { what: 'the app instance running', timeoutMs: 20_000 });
    appInstanceId = own.metadata.uid;
  }, scaled(90_000));

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  it('shop.localhost, /app/shop/ and X-Aegis-App: shop reach the app, not the instance named shop', async () => {
    const port = router.split(':').pop();
    expect(await get(`${router}/`, { host: `shop.localhost:${port}` })).toMatchObject({ status: 200, body: 'operator shop\n' });
    expect(await get(`${router}/app/shop/`)).toMatchObject({ status: 200, body: 'operator shop\n' });
    expect(await get(`${router}/`, { 'x-aegis-app': 'shop' })).toMatchObject({ status: 200, body: 'operator shop\n' });
    // The squatter is still there, reachable by its id only.
    expect(await get(`${router}/`, { 'x-aegis-app': squatterId })).toMatchObject({ status: 200, body: 'squatter\n' });
  });

  it('aegis exec shop and aegis logs shop reach the app instance', async () => {
    expect(await t.aegis(['exec', 'shop', '--', 'cat', '/www/index.html'])).toMatchObject({ code: 0, stdout: 'operator shop\n' });
    expect(await t.aegis(['exec', squatterId, '--', 'cat', '/tmp/w/index.html'])).toMatchObject({ code: 0, stdout: 'squatter\n' });
    const logs = await t.aegis(['logs', 'shop', '--json']);
    expect(logs.code).toBe(0);
    const from = new Set(logs.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { instance: string }).instance));
    expect([...from]).toEqual([appInstanceId]);
    expect((await t.api('GET', '/v1/instances/shop')).body.metadata.uid).toBe(appInstanceId);
  });

  it('refuses an Instance named after an app it does not serve, from a watched directory and from apply', async () => {
    // The watched directory's next apply now fails on the name and says why.
    const st = await waitFor(async () => {
      const s = (await t.api('GET', '/v1/status')).body.watch;
      return s?.result === 'error' ? s : undefined;
    }, { what: 'the watched apply to be refused' });
    expect(st.message).toContain('instance name "shop" is taken by app "shop"');

    // A new squatter is refused outright, with one line naming the cause; nothing is written.
    const other = fs.mkdtempSync(path.join(t.home, 'other-'));
    fs.writeFileSync(path.join(other, 'squat.yaml'), squatter('shop') + '---\n' + squatter('cart'));
    await t.api('DELETE', `/v1/instances/${squatterId}`);
    fs.rmSync(path.join(watched, 'shop.yaml'));
    await waitFor(async () => !(await instances()).some((i) => i.metadata.uid === squatterId), { what: 'the squatter deleted', timeoutMs: 20_000 });
    const applied = await t.aegis(['apply', '-f', other]);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toBe('error: instance name "shop" is taken by app "shop": an instance named after an app must serve it (app: shop); give this instance another name\n');
    expect((await instances()).map((i) => i.metadata.name).sort()).toEqual([appInstanceId]);

    // An Instance of the app under the app's own name is that app's, and allowed.
    fs.writeFileSync(path.join(other, 'squat.yaml'), 'apiVersion: aegis.dev/v1\nkind: Instance\nmetadata:\n  name: shop\nspec:\n  app: shop\n');
    expect(await t.aegis(['apply', '-f', other, '--dry-run'])).toMatchObject({ code: 0 });
  });
});
