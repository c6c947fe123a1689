// Declarative setups end to end: apply (all or nothing, idempotent, restart of what changed), diff, prune,
// get -o yaml round trip, the examples/ directory, and a watched directory that heals drift.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { ROOT, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const app = (name: string, image: string, msg: string, extra = '') => `apiVersion: aegis.dev/v1
kind: App
metadata:
  name: ${name}
  labels: {team: search}
spec:
  image: ${image}
  command: [sh, -c, 'echo ${msg}; exec httpd -f -p 80 -h /']
  expose: [80]${extra}
`;

describe('declarative apply', () => {
  let t: TempHome;
  let registry: TestRegistry;
  let image: string;
  let dir: string;

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [...busyboxEntries(), { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' }];
    await pushImage(registry.url, 'test/web', '1', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    image = `${registry.host}/test/web:1`;
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    dir = fs.mkdtempSync(path.join(t.home, 'deploy-'));
    for (const n of ['alpha', 'beta', 'gamma']) fs.writeFileSync(path.join(dir, `${n}.yaml`), app(n, image, `${n} v1`));
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  });

  const machineOf = async (appName: string) => {
    const items = (await t.api('GET', '/v1/instances')).body.items as { spec: { app?: string }; status: { machineId?: string; state?: string } }[];
    return items.find((i) => i.spec.app === appName)?.status;
  };

  it('applies a directory, then writes nothing when applied again', async () => {
    const first = await t.aegis(['apply', '-f', dir]);
    expect(first).toMatchObject({ code: 0, stdout: 'app/alpha created\napp/beta created\napp/gamma created\n' });
    // The controller reports on each app once it has resolved its image: a status write of its own.
    type Reported = { status: { conditions?: { type: string }[] } };
    await waitFor(async () => ((await t.api('GET', '/v1/apps')).body.items as Reported[]).every((a) => a.status.conditions?.some((c) => c.type === 'ImageResolved')), { what: 'the apps reported' });
    const rvs = (await t.api('GET', '/v1/apps')).body.items.map((a: { metadata: { resourceVersion: number } }) => a.metadata.resourceVersion);
    expect(await t.aegis(['apply', '-f', dir])).toMatchObject({ code: 0, stdout: 'app/alpha unchanged\napp/beta unchanged\napp/gamma unchanged\n' });
    expect((await t.api('GET', '/v1/apps')).body.items.map((a: { metadata: { resourceVersion: number } }) => a.metadata.resourceVersion)).toEqual(rvs);
  });

  it('an edited file configures exactly that app and restarts only its instance', async () => {
    for (const n of ['alpha', 'beta', 'gamma']) {
      expect((await t.aegis(['app', 'publish', n])).code).toBe(0);
      expect((await t.api('POST', `/v1/apps/${n}/serve`, {})).status).toBe(201);
    }
    const before: Record<string, string> = {};
    for (const n of ['alpha', 'beta', 'gamma']) before[n] = (await waitFor(async () => (await machineOf(n))?.machineId, { what: `${n} machine` }))!;

    fs.writeFileSync(path.join(dir, 'beta.yaml'), app('beta', image, 'beta v2'));
    const diff = await t.aegis(['diff', '-f', dir]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toBe('app/beta configured (~ restart: command)\n  ~ /command/2: "echo beta v2; exec httpd -f -p 80 -h /"\n');
    const applied = await t.aegis(['apply', '-f', dir]);
    expect(applied.stdout).toBe('app/alpha unchanged\napp/beta configured (~ restart: command)\napp/gamma unchanged\n');
    expect((await t.aegis(['diff', '-f', dir])).code).toBe(0);

    const after = await waitFor(async () => {
      const m = await machineOf('beta');
      return m?.machineId && m.machineId !== before.beta && m.state === 'running' ? m.machineId : undefined;
    }, { what: 'beta restarted', timeoutMs: 20_000 });
    expect(after).not.toBe(before.beta);
    expect((await machineOf('alpha'))?.machineId).toBe(before.alpha);
    expect((await machineOf('gamma'))?.machineId).toBe(before.gamma);
    await waitFor(async () => (await t.aegis(['logs', 'beta'])).stdout.includes('beta v2'), { what: 'the new command to run' });
  });

  it('refuses a set with one invalid document among ten, listing every error with its location', async () => {
    const bad = fs.mkdtempSync(path.join(t.home, 'bad-'));
    for (let i = 0; i < 9; i++) fs.writeFileSync(path.join(bad, `ok${i}.yaml`), app(`ok${i}`, image, 'x'));
    fs.writeFileSync(path.join(bad, 'zz-broken.yaml'), app('Broken_Name', image, 'x', '\n  replicas: 3').replace('expose: [80]', 'expose: [0]'));
    const r = await t.aegis(['apply', '-f', bad]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^error: 3 problems in the manifests; first: /);
    expect(lines.slice(1).every((l) => l.startsWith(`  ${path.join(bad, 'zz-broken.yaml')}:`))).toBe(true);
    expect(r.stderr).toMatch(/:4:9: metadata\.name: /);
    expect(r.stderr).toContain('spec.expose.0');
    expect(r.stderr).toContain('replicas');
    const names = (await t.api('GET', '/v1/apps')).body.items.map((a: { metadata: { name: string } }) => a.metadata.name);
    expect(names.filter((n: string) => n.startsWith('ok'))).toEqual([]);
  });

  it('--prune deletes an app whose file was removed, never one made by app create', async () => {
    expect((await t.aegis(['app', 'create', '--name', 'manual', '--image', image, '--', 'true'])).code).toBe(0);
    fs.rmSync(path.join(dir, 'gamma.yaml'));
    const dry = await t.aegis(['apply', '-f', dir, '--prune', '--dry-run']);
    expect(dry.stdout).toContain('app/gamma pruned (dry run)');
    expect((await t.api('GET', '/v1/apps/gamma')).status).toBe(200);
    const r = await t.aegis(['apply', '-f', dir, '--prune']);
    expect(r.stdout).toBe('app/alpha unchanged\napp/beta unchanged\napp/gamma pruned\n');
    await waitFor(async () => (await t.api('GET', '/v1/apps/gamma')).status === 404, { what: 'gamma deleted' });
    expect((await t.api('GET', '/v1/apps/manual')).status).toBe(200);
  });

  it('get -o yaml prints manifests that apply back unchanged; get and describe show readiness', async () => {
    const yaml = await t.aegis(['get', 'app', 'alpha', '-o', 'yaml']);
    expect(yaml.stdout).toMatch(/^apiVersion: aegis\.dev\/v1\nkind: App\nmetadata:\n  name: alpha\n  labels:\n    team: search\nspec:\n/);
    const file = path.join(t.home, 'roundtrip.yaml');
    fs.writeFileSync(file, yaml.stdout);
    // Another source applying the same object takes it over (configured), but changes nothing in its spec.
    const back = await t.aegis(['diff', '-f', file]);
    expect(back).toMatchObject({ code: 1, stdout: 'app/alpha configured\n' });
    const table = await t.aegis(['get', 'apps', '-l', 'team=search']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME +READY +REASON +AGE$/);
    expect(table.stdout).toMatch(/\nalpha +True +Ready +\d+[smhd]\n/);
    expect(table.stdout).not.toContain('manual');
    const described = await t.aegis(['describe', 'app', 'alpha']);
    expect(described.stdout).toMatch(/^Name: +alpha\nKind: +App\nID: +app-/);
    expect(described.stdout).toContain('Ready=True  Ready: the app can run');
    expect(described.stdout).toMatch(/\nEvents:\n +\d+[smhd] ago  Normal +Created: app alpha created\n/);
    expect(await t.aegis(['get', 'widgets'])).toMatchObject({ code: 1 });
  });

  it('diff redacts secret values and exits 2 on bad input', async () => {
    const sdir = fs.mkdtempSync(path.join(t.home, 'sec-'));
    const secret = (v: string) => `apiVersion: aegis.dev/v1\nkind: Secret\nmetadata: {name: tokens}\nspec:\n  app: alpha\n  data:\n    TOKEN: {valueFrom: {env: MY_TOKEN}}\n    FIXED: ${v}\n`;
    fs.writeFileSync(path.join(sdir, 's.yaml'), secret('fixed-one'));
    t.env.MY_TOKEN = 'tok-very-secret-1';
    expect((await t.aegis(['apply', '-f', sdir])).stdout).toBe('secret/tokens created\n');
    fs.writeFileSync(path.join(sdir, 's.yaml'), secret('fixed-two-secret'));
    const d = await t.aegis(['diff', '-f', sdir, '-o', 'json']);
    expect(d.code).toBe(1);
    expect(JSON.parse(d.stdout)).toEqual([{ object: 'secret/tokens', action: 'configured', patch: [{ op: 'replace', path: '/data/FIXED', value: '<redacted:changed>' }] }]);
    for (const leaked of ['fixed-one', 'fixed-two-secret', 'tok-very-secret-1']) expect(d.stdout + d.stderr).not.toContain(leaked);
    delete t.env.MY_TOKEN;
    const unset = await t.aegis(['diff', '-f', sdir]);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('reads environment variable MY_TOKEN, which is not set');
  });

  it('applies every example in examples/', async () => {
    t.env.API_TOKEN = 'example-token';
    for (const ex of fs.readdirSync(path.join(ROOT, 'examples')).filter((f) => !f.includes('.'))) {
      const r = await t.aegis(['apply', '-f', path.join(ROOT, 'examples', ex)]);
      expect(r.code, `${ex}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/ created\n/);
    }
    await waitFor(async () => (await t.api('GET', '/v1/resources/tasks/hello')).body.status?.phase === 'Succeeded', { what: 'the example task' });
    expect((await t.aegis(['app', 'info', 'agent'])).stdout).toContain('MissingSecrets');
  });
});

describe('watched directory', () => {
  let t: TempHome;
  let dir: string;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    fs.writeFileSync(path.join(t.home, 'config.yaml'), 'router:\n  port: 0\nwatchInterval: 1s\n');
    dir = fs.mkdtempSync(path.join(t.home, 'watched-'));
    execFileSync('git', ['init', '-q', dir]);
    fs.writeFileSync(path.join(dir, 'one.yaml'), app('one', 'busybox:1.36', 'one'));
    execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '.']);
    execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'one']);
    expect((await t.aegis(['up', '--watch', dir])).code).toBe(0);
  }, 30_000);

  afterAll(async () => t?.dispose());

  it('applies the directory at start and on every change, with prune', async () => {
    await waitFor(async () => (await t.api('GET', '/v1/apps/one')).status === 200, { what: 'initial apply' });
    const commit = execFileSync('git', ['-C', dir, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    const status = await t.aegis(['status']);
    expect(status.stdout).toMatch(new RegExp(`\\nwatch: ${dir.replace(/[.]/g, '\\.')} @ ${commit}: ok \\(applied [^)]+\\): 1 (created|unchanged)\\n`));

    fs.writeFileSync(path.join(dir, 'two.yaml'), app('two', 'busybox:1.36', 'two'));
    await waitFor(async () => (await t.api('GET', '/v1/apps/two')).status === 200, { what: 'two applied' });
    fs.rmSync(path.join(dir, 'one.yaml'));
    await waitFor(async () => (await t.api('GET', '/v1/apps/one')).status === 404, { what: 'one pruned' });
  });

  it('keeps the last good state when a file is invalid, and reports it', async () => {
    fs.writeFileSync(path.join(dir, 'three.yaml'), app('three', 'busybox:1.36', 'three').replace('expose: [80]', 'expose: [banana]'));
    await waitFor(async () => (await t.aegis(['status'])).stdout.includes('watch: '), { what: 'status' });
    const st = await waitFor(async () => {
      const s = (await t.api('GET', '/v1/status')).body.watch;
      return s?.result === 'error' ? s : undefined;
    }, { what: 'the error to be reported' });
    expect(st.message).toContain('three.yaml');
    expect(st.message).toContain('the last good state keeps running');
    expect((await t.api('GET', '/v1/apps/two')).status).toBe(200);
    expect((await t.api('GET', '/v1/apps/three')).status).toBe(404);
    fs.rmSync(path.join(dir, 'three.yaml'));
    await waitFor(async () => (await t.api('GET', '/v1/status')).body.watch?.result === 'ok', { what: 'recovery' });
  });

  it('repairs drift made by imperative commands on objects it owns', async () => {
    const cur = (await t.api('GET', '/v1/resources/apps/two')).body;
    const put = await t.api('PUT', '/v1/resources/apps/two', { metadata: { resourceVersion: cur.metadata.resourceVersion }, spec: { ...cur.spec, command: ['sh', '-c', 'drifted'] } });
    expect(put.status).toBe(200);
    await waitFor(async () => (await t.api('GET', '/v1/resources/apps/two')).body.spec.command[2] === 'echo two; exec httpd -f -p 80 -h /', { what: 'drift repaired', timeoutMs: 10_000 });
  });
});
