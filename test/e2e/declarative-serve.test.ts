// Declarative serving end to end: `aegis apply -f examples/multi-app` (its apps have `serve: true`) and each
// app answers through the router with no other command; editing one file restarts only that app's instance;
// `serve: false` and removing a file with --prune stop and remove the instance.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { httpGet } from '../support/http-get.js';
import { ROOT, scaled, scaledDuration, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const APPS = ['api', 'frontend', 'worker'];

interface InstanceView {
  metadata: { uid: string; name: string; labels: Record<string, string> };
  spec: { app?: string };
  status: { state?: string; machineId?: string };
}

describe('declarative serving (serve: true)', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  let dir: string;
  let router: string;

  const instances = async () => (await t.api('GET', '/v1/instances')).body.items as InstanceView[];
  const instanceOf = async (app: string) => (await instances()).find((i) => i.spec.app === app);
  /** `curl http://APP.localhost:PORT/`: the Host names the app (Node does not resolve *.localhost itself, curl does). */
  const curl = (app: string) => httpGet(`${router}/`, { headers: { host: `${app}.localhost:${new URL(router).port}` } });
  const answers = (app: string, body: string) =>
    waitFor(async () => {
      const r = await curl(app);
      return r.status === 200 && r.body === body;
    }, { what: `${app} to answer ${JSON.stringify(body)}`, timeoutMs: 20_000 });

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [...busyboxEntries(), { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' }, { name: 'bin/mkdir', type: 'symlink' as const, linkname: 'busybox' }];
    await pushImage(registry.url, 'library/busybox', '1.36', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    fs.writeFileSync(path.join(t.home, 'config.yaml'), `router:\n  port: 0\n  wakeTimeout: ${scaledDuration(5_000)}\n`);
    // The example as it is, its image served by the test's registry (no registry on the internet here).
    dir = fs.mkdtempSync(path.join(t.home, 'multi-app-'));
    for (const f of fs.readdirSync(path.join(ROOT, 'examples', 'multi-app'))) {
      const text = fs.readFileSync(path.join(ROOT, 'examples', 'multi-app', f), 'utf8');
      expect(text).toContain('image: busybox:1.36');
      fs.writeFileSync(path.join(dir, f), text.replace('image: busybox:1.36', `image: ${registry.host}/library/busybox:1.36`));
    }
    expect((await t.aegis(['up'])).code).toBe(0);
    router = (await t.api('GET', '/v1/status')).body.router;
  }, scaled(60_000));

  afterAll(async () => {
    // Served apps go first: dispose() deletes instances, which `serve: true` would start again.
    for (const app of APPS) await t?.api('DELETE', `/v1/apps/${app}`);
    await waitFor(async () => (await instances()).length === 0, { what: 'the served instances to go' }).catch(() => undefined);
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  it('apply alone serves every app: a release is published and one instance started for each', async () => {
    // --wait returns once each app is Ready and Serving at the generation written, and its instance is Ready.
    expect(await t.aegis(['apply', '-f', dir, '--wait', '--timeout', '60s'])).toMatchObject({ code: 0, stdout: 'app/api created\napp/frontend created\napp/worker created\n' });
    for (const app of APPS) {
      const inst = (await t.api('GET', `/v1/resources/instances/${app}`)).body;
      expect(['running', 'paused']).toContain(inst.status.state);
      expect(inst.status.observedGeneration).toBe(inst.metadata.generation);
    }
    for (const app of APPS) await answers(app, `hello from ${app}\n`);
    for (const app of APPS) {
      const served = (await instances()).filter((i) => i.spec.app === app);
      expect(served).toHaveLength(1);
      expect(served[0]!.metadata.name).toBe(app);
      const status = (await t.api('GET', `/v1/apps/${app}`)).body.status;
      expect(status.instance).toBe(app);
      expect(status.latestRelease).toMatch(/^rel-/);
      expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'Serving', status: 'True' }));
    }
    // Applying again changes nothing: no second release, no second instance.
    expect((await t.aegis(['apply', '-f', dir])).stdout).toBe('app/api unchanged\napp/frontend unchanged\napp/worker unchanged\n');
    expect((await t.api('GET', '/v1/resources/releases')).body.items).toHaveLength(3);
    expect(await instances()).toHaveLength(3);
  });

  it('an edited file restarts only its own instance, on the new definition', async () => {
    const before: Record<string, string> = {};
    for (const app of APPS) before[app] = (await waitFor(async () => (await instanceOf(app))?.status.machineId, { what: `${app} machine` }))!;
    const file = path.join(dir, 'frontend.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('hello from frontend', 'hello again from frontend'));
    expect((await t.aegis(['apply', '-f', dir, '--wait', '--timeout', '60s'])).stdout).toBe('app/api unchanged\napp/frontend configured (~ restart: command)\napp/worker unchanged\n');
    const edited = (await t.api('GET', '/v1/apps/frontend')).body;
    expect(edited.metadata.generation).toBe(2);
    expect(edited.status.observedGeneration).toBe(2);
    await answers('frontend', 'hello again from frontend\n');
    expect((await instanceOf('frontend'))?.status.machineId).not.toBe(before.frontend);
    expect((await instanceOf('api'))?.status.machineId).toBe(before.api);
    expect((await instanceOf('worker'))?.status.machineId).toBe(before.worker);
  });

  it('serve: false stops and removes the instance it made; the app stays', async () => {
    const file = path.join(dir, 'api.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('serve: true', 'serve: false'));
    expect((await t.aegis(['apply', '-f', dir])).stdout).toContain('app/api configured');
    await waitFor(async () => (await instanceOf('api')) === undefined, { what: 'the api instance to go' });
    expect((await curl('api')).status).toBe(404);
    const status = (await t.api('GET', '/v1/apps/api')).body.status;
    expect(status.instance).toBeUndefined();
    expect(status.conditions.map((c: { type: string }) => c.type)).not.toContain('Serving');
    await answers('frontend', 'hello again from frontend\n');
  });

  it('a file removed with --prune takes its app and its instance, whose machine stops', async () => {
    const machine = (await instanceOf('worker'))!.status.machineId!;
    fs.rmSync(path.join(dir, 'worker.yaml'));
    expect((await t.aegis(['apply', '-f', dir, '--prune'])).stdout).toBe('app/api unchanged\napp/frontend unchanged\napp/worker pruned\n');
    await waitFor(async () => (await t.api('GET', '/v1/apps/worker')).status === 404, { what: 'worker pruned' });
    expect(await instanceOf('worker')).toBeUndefined();
    expect(fs.existsSync(path.join(t.home, 'data', 'machines', machine, 'state.json'))).toBe(false);
    expect((await curl('worker')).status).toBe(404);
    await answers('frontend', 'hello again from frontend\n');
  });

  it('apply --wait fails at once, with the reason, when an app asks to be served and cannot be', async () => {
    const bad = fs.mkdtempSync(path.join(t.home, 'no-ports-'));
    fs.writeFileSync(path.join(bad, 'quiet.yaml'), `apiVersion: aegis.dev/v1\nkind: App\nmetadata: { name: quiet }\nspec: { image: ${registry.host}/library/busybox:1.36, command: [sleep, '1000'], serve: true }\n`);
    const started = Date.now();
    const r = await t.aegis(['apply', '-f', bad, '--wait', '--timeout', '60s']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('app/quiet failed: Serving False: NoPorts');
    expect(Date.now() - started).toBeLessThan(scaled(20_000));
    await t.api('DELETE', '/v1/apps/quiet');
  });
});
