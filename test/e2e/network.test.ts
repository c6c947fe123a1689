// The network policy through the CLI and manifests: `--network` on run and app create, an app's policy
// reaching the tasks run with it, `aegis describe` showing the policy in force, and a changed policy
// restarting the app's instance. What the policies let through is in test/security/egress-policy.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled, withTempHome, type TempHome } from '../support/temp-home.js';

describe('network policy (CLI, apps, manifests)', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  beforeAll(async () => {
    t = withTempHome();
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
  }, scaled(60_000));
  afterAll(() => t.dispose(), scaled(60_000));

  it('refuses a bad --network entry before anything starts, in one line naming it', async () => {
    const run = await t.aegis(['run', '--network', 'api.example.com:99999', '--', 'true']);
    expect(run).toEqual({ code: 125, stdout: '', stderr: 'error: "api.example.com:99999": port must be 1-65535\n' });
    const create = await t.aegis(['app', 'create', '--name', 'bad', '--image', 'alpine:3.21', '--network', 'db', '--', 'true']);
    expect(create.code).not.toBe(0);
    // A usage error, printed as clipanion prints them (with the command's synopsis).
    expect(create.stdout).toContain('Usage Error: "db": a host name must be fully qualified');
    expect((await t.aegis(['app', 'list'])).stdout).not.toContain('bad');
  });

  it("shows the policy in force, and runs an app's tasks under the app's policy", async () => {
    const create = await t.aegis(['app', 'create', '--name', 'locked', '--image', 'alpine:3.21', '--network', 'none', '--', 'true']);
    expect(create.code, create.stderr).toBe(0);
    expect((await t.aegis(['describe', 'app', 'locked'])).stdout).toContain('Network:    egress none: no network device\n');
    await t.aegis(['app', 'create', '--name', 'open', '--image', 'alpine:3.21', '--', 'true']);
    expect((await t.aegis(['describe', 'app', 'open'])).stdout).toMatch(/Network: {4}egress all \(default\): public addresses; private, link-local and host addresses blocked\n/);

    // A task with --app gets the app's policy unless it sets its own.
    const inherited = await t.aegis(['run', '--app', 'locked', '--', 'ls', '/sys/class/net']);
    expect(inherited).toEqual({ code: 0, stdout: 'lo\n', stderr: '' });
    const own = await t.aegis(['run', '--app', 'locked', '--network', 'all', '--', 'ls', '/sys/class/net']);
    expect(own.stdout.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(1);
    const tasks = (await t.api('GET', '/v1/tasks')).body.items as { metadata: { name: string }; spec: { network?: unknown } }[];
    expect(tasks.map((task) => task.spec.network)).toContainEqual({ egress: 'all' });
  });

  it('takes the policy from manifests, and a changed policy restarts the app', async () => {
    const dir = path.join(t.home, 'deploy');
    fs.mkdirSync(dir);
    const manifest = (egress: string) =>
      ['apiVersion: aegis.dev/v1', 'kind: App', 'metadata: {name: agent}', 'spec:', '  image: alpine:3.21', '  command: [sleep, "3600"]', `  network: {egress: ${egress}}`, ''].join('\n');
    fs.writeFileSync(path.join(dir, 'agent.yaml'), manifest('[api.example.com:443, "10.0.0.5:5432"]'));
    const first = await t.aegis(['apply', '-f', dir]);
    expect(first.code, first.stderr).toBe(0);
    expect((await t.aegis(['describe', 'app', 'agent'])).stdout).toContain('Network:    egress only to api.example.com:443, 10.0.0.5:5432 ');
    fs.writeFileSync(path.join(dir, 'agent.yaml'), manifest('none'));
    expect((await t.aegis(['apply', '-f', dir])).stdout).toBe('app/agent configured (~ restart: network)\n');
  });
});
