// The seed's app and secret groups end to end: built CLI, real daemon, real registry; secret values never leak.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

// Runs with --app boot a machine each: the per-test budget follows the backend.
describe('apps, releases and secrets', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  let image: string;
  const secretValues: string[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'test/web', '1', await buildImage({ layers: [{ entries: busyboxEntries() }] }));
    image = `${registry.host}/test/web:1`;
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
  }, scaled(60_000));

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
  /** The sha256 of `$KEY` in a task of `app`: the value itself would show as *** (secret masking). */
  const seenBy = async (app: string, key: string) => (await t.aegis(['run', '--app', app, '--', 'sh', '-c', `printf %s "$${key}" | sha256sum`])).stdout.split(' ')[0];

  it('creates apps as the seed prints them, refusing duplicates and bad names', async () => {
    const created = await t.aegis(['app', 'create', '--name', 'myapp', '--image', image, '--expose', '80', '--', 'httpd', '-f', '-p', '80']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^App created: myapp \(id=app-[0-9a-f]{20}\)\n$/);
    expect(await t.aegis(['app', 'create', '--name', 'myapp', '--image', image, '--', 'true'])).toMatchObject({ code: 1, stderr: 'error: app "myapp" already exists\n' });
    const bad = await t.aegis(['app', 'create', '--name', 'My_App', '--image', image, '--', 'true']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: invalid app name "My_App": /);
    expect(await t.aegis(['app', 'create', '--name', 'noimage', '--', 'true'])).toMatchObject({ code: 1 });

    const list = await t.aegis(['app', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^NAME {17}IMAGE {26}ID\\nmyapp {16}${image.replace(/\./g, '\\.')} +app-[0-9a-f]{20}\\n$`));
  });

  it('publishes releases in order, newest first, and keeps a failed one with its reason', async () => {
    const v1 = await t.aegis(['app', 'publish', 'myapp', '--label', 'v1']);
    expect(v1.code, v1.stderr).toBe(0);
    expect(v1.stdout).toMatch(/^Published release rel-[0-9a-f]{20} \(label=v1\)\n$/);
    const plain = await t.aegis(['app', 'publish', 'myapp']);
    expect(plain.stdout).toMatch(/^Published release rel-[0-9a-f]{20}\n$/);
    expect((await t.aegis(['app', 'publish', 'myapp', '--label', 'v1'])).stderr).toMatch(/^error: app "myapp" already has a release labelled v1 \(rel-/);

    const info = await t.aegis(['app', 'info', 'myapp']);
    const id1 = v1.stdout.split(' ')[2]!;
    const id2 = plain.stdout.trim().split(' ')[2]!;
    expect(info.stdout.split('\n').slice(0, 5)).toEqual([`Name:    myapp`, expect.stringMatching(/^ID: {6}app-/), `Image:   ${image}`, 'Command: httpd -f -p 80', 'Ports:   80']);
    expect(info.stdout.split('\n').slice(5)).toEqual(['', 'Releases (2):', `  ${id2}`, `  ${id1} (v1)`, '']);

    // A release pins its image: removing the tag from the cache keeps the layers the release needs.
    const rel = (await t.api('GET', `/v1/resources/releases/${id1}`)).body;
    expect(rel.status).toMatchObject({ phase: 'Ready', sequence: 1 });
    expect(rel.status.imageDigest).toMatch(/^sha256:/);
    expect(fs.existsSync(rel.status.rootfs)).toBe(true);

    await t.aegis(['app', 'create', '--name', 'broken', '--image', `${registry.host}/test/web:missing`, '--', 'true']);
    const failed = await t.aegis(['app', 'publish', 'broken', '--label', 'v1']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`^error: release rel-[0-9a-f]{20} failed: registry ${registry.host.replace(/\./g, '\\.')} has no manifest missing in test/web`));
    expect((await t.aegis(['app', 'info', 'broken'])).stdout).toMatch(/\n {2}rel-[0-9a-f]{20} \(v1\) Failed: registry .* has no manifest missing/);
  });

  it('a publish asks the registry again, so a tag that moved gives a release of the new digest', async () => {
    const latest = async () => (await t.api('GET', '/v1/apps/myapp/releases')).body.items[0].status.imageDigest as string;
    const before = await latest();
    const moved = await buildImage({ layers: [{ entries: [...busyboxEntries(), { name: 'etc/version', content: '2\n' }] }] });
    await pushImage(registry.url, 'test/web', '1', moved);
    expect((await t.aegis(['app', 'publish', 'myapp', '--label', 'v2'])).code).toBe(0);
    expect(await latest()).toBe(moved.manifestDigest);
    expect(moved.manifestDigest).not.toBe(before);
  });

  it('sets, lists and deletes app secrets; a run with --app sees the value current at its boot', async () => {
    const first = 'sk-first-3f9a8b7c';
    const second = 'sk-second-77d1e2aa';
    secretValues.push(first, second);
    expect(await t.aegis(['secret', 'set', 'myapp', 'API_KEY', first])).toMatchObject({ code: 0, stdout: 'Secret API_KEY set for myapp\n' });
    expect(await t.aegis(['secret', 'list', 'myapp'])).toMatchObject({ code: 0, stdout: 'Secrets for myapp:\n  API_KEY\n' });
    expect(await seenBy('myapp', 'API_KEY')).toBe(sha256(first));
    // `-` reads the value from stdin, one trailing newline dropped.
    expect(await t.aegis(['secret', 'set', 'myapp', 'API_KEY', '-'], { input: `${second}\n` })).toMatchObject({ code: 0 });
    expect(await seenBy('myapp', 'API_KEY')).toBe(sha256(second));

    expect(await t.aegis(['secret', 'delete', 'myapp', 'API_KEY'])).toMatchObject({ code: 0, stdout: 'Secret API_KEY deleted from myapp\n' });
    expect(await t.aegis(['secret', 'delete', 'myapp', 'API_KEY'])).toMatchObject({ code: 1, stderr: 'error: secret API_KEY not found in myapp\n' });
    expect(await t.aegis(['secret', 'list', 'myapp'])).toMatchObject({ stdout: 'No secrets for myapp.\n' });
    expect(await t.aegis(['secret', 'set', 'nosuchapp', 'K', 'v'])).toMatchObject({ code: 1, stderr: 'error: app "nosuchapp" not found\n' });
    expect((await t.aegis(['secret', 'set', 'myapp', 'bad-key', 'v'])).stderr).toMatch(/^error: secret key "bad-key"/);
  });

  it('gives apps workspace secrets only when they list them', async () => {
    const token = 'ws-token-5e6f7a8b';
    secretValues.push(token);
    expect(await t.aegis(['secret', 'set-workspace', 'GLOBAL_TOKEN', token])).toMatchObject({ code: 0, stdout: 'Workspace secret GLOBAL_TOKEN set\n' });
    expect(await t.aegis(['secret', 'list-workspace'])).toMatchObject({ stdout: 'Workspace secrets:\n  GLOBAL_TOKEN\n' });
    expect((await t.aegis(['run', '--app', 'myapp', '--', 'sh', '-c', 'echo "[$GLOBAL_TOKEN]"'])).stdout).toBe('[]\n');
    await t.aegis(['app', 'create', '--name', 'listed', '--image', image, '--secret', 'GLOBAL_TOKEN', '--', 'true']);
    expect(await seenBy('listed', 'GLOBAL_TOKEN')).toBe(sha256(token));
    expect(await t.aegis(['secret', 'delete-workspace', 'GLOBAL_TOKEN'])).toMatchObject({ code: 0, stdout: 'Workspace secret GLOBAL_TOKEN deleted\n' });
    expect(await t.aegis(['secret', 'list-workspace'])).toMatchObject({ stdout: 'No workspace secrets.\n' });
  });

  it('reports MissingSecrets for a kit app until its required secret is set', async () => {
    const kit = { name: 'agentkit', version: '1.0.0', image, config: { port: 8080, command: ['sleep', '1000'], secrets: { required: ['OPENAI_KEY'] } } };
    expect((await t.api('POST', '/v1/kits', kit)).status).toBe(201);
    expect((await t.aegis(['app', 'create', '--name', 'agent', '--kit', 'agentkit'])).code).toBe(0);
    const missing = await waitFor(async () => {
      const r = await t.aegis(['app', 'info', 'agent']);
      return r.stdout.includes('Status:  MissingSecrets') ? r : undefined;
    }, { what: 'MissingSecrets in app info' });
    expect(missing.stdout).toContain('Status:  MissingSecrets: missing required secret OPENAI_KEY (set with: aegis secret set agent KEY VALUE)');
    expect(missing.stdout).toContain('Image:   (from kit agentkit)');
    secretValues.push('sk-openai-1a2b3c');
    await t.aegis(['secret', 'set', 'agent', 'OPENAI_KEY', 'sk-openai-1a2b3c']);
    await waitFor(async () => !(await t.aegis(['app', 'info', 'agent'])).stdout.includes('Status:'), { what: 'the app to become Ready' });
    // The kit's declared secret reaches the app even though the app lists no secrets.
    expect(await seenBy('agent', 'OPENAI_KEY')).toBe(sha256('sk-openai-1a2b3c'));
    expect((await t.aegis(['kit', 'uninstall', 'agentkit'])).stderr).toBe('error: kit "agentkit" is used by app(s) agent; delete them first or uninstall with --force\n');
  });

  it('deletes an app with its releases, secrets and image pins', async () => {
    const rels = (await t.api('GET', '/v1/apps/myapp/releases')).body.items as { status: { rootfs: string } }[];
    await t.aegis(['secret', 'set', 'myapp', 'TO_GO', 'x']);
    expect(await t.aegis(['app', 'delete', 'myapp'])).toMatchObject({ code: 0, stdout: 'App "myapp" deleted\n' });
    expect((await t.api('GET', '/v1/apps/myapp')).status).toBe(404);
    const releases = (await t.api('GET', '/v1/resources/releases')).body.items as { spec: { app: string } }[];
    expect(releases.filter((r) => r.spec.app === 'myapp')).toEqual([]);
    const secrets = (await t.api('GET', '/v1/resources/secrets')).body.items as { spec: { app?: string } }[];
    expect(secrets.filter((s) => s.spec.app === 'myapp')).toEqual([]);
    for (const r of rels) expect(fs.existsSync(r.status.rootfs)).toBe(false);
    expect(await t.aegis(['app', 'delete', 'myapp'])).toMatchObject({ code: 1, stderr: 'error: app "myapp" not found\n' });
  });

  it('never shows a secret value: not in the database file, the daemon log, or any output', async () => {
    expect(secretValues.length).toBeGreaterThan(3);
    const outputs = await Promise.all([
      t.aegis(['app', 'list']),
      t.aegis(['app', 'info', 'agent']),
      t.aegis(['secret', 'list', 'agent']),
      t.aegis(['secret', 'list-workspace']),
      t.aegis(['status', '-o', 'json']),
    ]);
    const api = await Promise.all(['/v1/resources/secrets', '/v1/apps', '/v1/resources/apps/agent'].map((p) => t.api('GET', p)));
    const data = path.join(t.home, 'data');
    const files = fs.readdirSync(data).filter((f) => f.startsWith('aegis.db') || f === 'aegisd.log');
    expect(files).toContain('aegisd.log');
    const haystacks = [...outputs.map((o) => o.stdout + o.stderr), ...api.map((a) => JSON.stringify(a.body)), ...files.map((f) => fs.readFileSync(path.join(data, f)).toString('latin1'))];
    for (const value of secretValues) for (const h of haystacks) expect(h).not.toContain(value);
  });
});
