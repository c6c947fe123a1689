// `aegis kit …` end to end: the built CLI against a real daemon, with the seed reference's exact output.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTempHome, type TempHome } from '../support/temp-home.js';

const FAMIGLIA = 'name: famiglia\nversion: "1.0.0"\ndescription: Famiglia agent kit\nimage: ghcr.io/aegis/famiglia:1.0.0\n';
const OPENCLAW = [
  'apiVersion: aegis.dev/v1',
  'kind: Kit',
  'metadata:',
  '  name: openclaw',
  'spec:',
  '  version: "0.9.2"',
  '  image: ghcr.io/aegis/openclaw:0.9.2',
  '',
].join('\n');

describe('kits end to end', () => {
  let t: TempHome;
  let dir: string;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0'; // no machine is needed: kits are desired state only
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
    dir = fs.mkdtempSync(path.join(t.home, 'kits-'));
    fs.writeFileSync(path.join(dir, 'famiglia.yaml'), FAMIGLIA);
    fs.writeFileSync(path.join(dir, 'openclaw.yaml'), OPENCLAW);
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
  });

  const kit = (args: string[], opts: { input?: string } = {}) => t.aegis(['kit', ...args], { cwd: dir, ...opts });

  it('follows the seed example: install, list, info, uninstall', async () => {
    expect(await kit(['list'])).toEqual({ code: 0, stdout: 'No kits installed. Install one with: aegis kit install MANIFEST.yaml\n', stderr: '' });
    expect(await kit(['install', 'famiglia.yaml'])).toEqual({ code: 0, stdout: 'Kit famiglia v1.0.0 installed\n', stderr: '' });
    expect(await kit(['install', 'openclaw.yaml'])).toEqual({ code: 0, stdout: 'Kit openclaw v0.9.2 installed\n', stderr: '' });

    expect(await kit(['list'])).toEqual({
      code: 0,
      stdout: [
        'NAME                 VERSION         IMAGE',
        'famiglia             1.0.0           ghcr.io/aegis/famiglia:1.0.0',
        'openclaw             0.9.2           ghcr.io/aegis/openclaw:0.9.2',
        '',
      ].join('\n'),
      stderr: '',
    });

    const info = await kit(['info', 'famiglia']);
    expect(info).toMatchObject({ code: 0, stderr: '' });
    const lines = info.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual(['Name:        famiglia', 'Version:     1.0.0', 'Description: Famiglia agent kit', 'Image:       ghcr.io/aegis/famiglia:1.0.0']);
    expect(lines[4]).toMatch(/^Installed:   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(lines.slice(5)).toEqual(['']);
    const created = (await t.api('GET', '/v1/kits/famiglia')).body.metadata.createdAt as string;
    expect(lines[4]).toBe(`Installed:   ${created.replace(/\.\d{3}Z$/, 'Z')}`);
    // No description: no Description line.
    expect((await kit(['info', 'openclaw'])).stdout.split('\n').map((l) => l.split(':')[0])).toEqual(['Name', 'Version', 'Image', 'Installed', '']);

    expect(await kit(['uninstall', 'famiglia'])).toEqual({ code: 0, stdout: 'Kit "famiglia" uninstalled\n', stderr: '' });
    expect(await kit(['uninstall', 'openclaw'])).toMatchObject({ code: 0, stdout: 'Kit "openclaw" uninstalled\n' });
    expect((await kit(['list'])).stdout).toBe('No kits installed. Install one with: aegis kit install MANIFEST.yaml\n');
  });

  it('is idempotent for the same kit, refuses a different one, and reads stdin for -', async () => {
    expect(await kit(['install', 'famiglia.yaml'])).toMatchObject({ code: 0, stdout: 'Kit famiglia v1.0.0 installed\n' });
    expect(await kit(['install', '-'], { input: FAMIGLIA })).toEqual({ code: 0, stdout: 'Kit famiglia v1.0.0 installed\n', stderr: '' });
    const other = await kit(['install', '-'], { input: FAMIGLIA.replaceAll('1.0.0', '2.0.0') });
    expect(other).toEqual({ code: 1, stdout: '', stderr: 'error: kit "famiglia" is already installed (version 1.0.0); uninstall it first\n' });
    expect(await kit(['uninstall', 'famiglia'])).toMatchObject({ code: 0 });
  });

  it('refuses to uninstall a kit an app uses unless --force', async () => {
    expect(await kit(['install', 'famiglia.yaml'])).toMatchObject({ code: 0 });
    const app = await t.api('POST', '/v1/resources/apps', { metadata: { name: 'web' }, spec: { kit: 'famiglia', command: ['x'] } });
    expect(app.status).toBe(201);
    expect(await kit(['uninstall', 'famiglia'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: kit "famiglia" is used by app(s) web; delete them first or uninstall with --force\n',
    });
    expect(await kit(['uninstall', '--force', 'famiglia'])).toEqual({ code: 0, stdout: 'Kit "famiglia" uninstalled\n', stderr: '' });
    expect((await t.api('DELETE', '/v1/resources/apps/web')).status).toBe(200);
  });

  it('reports validation problems with file:line:col, and writes nothing', async () => {
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'name: bad\nversion: 1.0\nimage: ghcr.io/aegis/bad:1\ncolour: red\n');
    const r = await kit(['install', 'bad.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([
      'error: invalid kit manifest: version: version must be a string (quote versions such as "1.0" in YAML, which would otherwise read as a number) (and 1 more problem)',
      '  bad.yaml:2:10: version: version must be a string (quote versions such as "1.0" in YAML, which would otherwise read as a number)',
      '  bad.yaml:4:1: colour: unknown field "colour"',
      '',
    ]);
    expect((await t.api('GET', '/v1/kits')).body.items).toEqual([]);
  });

  it('reports a YAML syntax error as FILE:LINE:COL and a missing file in one line', async () => {
    fs.writeFileSync(path.join(dir, 'syntax.yaml'), 'name: famiglia\nversion: "1.0.0"\nimage: a: b\n');
    expect(await kit(['install', 'syntax.yaml'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: syntax.yaml:3:8: invalid YAML: Nested mappings are not allowed in compact mappings\n',
    });
    expect(await kit(['install', 'famiglia-missing.yaml'])).toEqual({ code: 1, stdout: '', stderr: 'error: cannot read famiglia-missing.yaml: no such file\n' });
  });

  it('reports an unknown kit in one line', async () => {
    expect(await kit(['info', 'nope'])).toEqual({ code: 1, stdout: '', stderr: 'error: kit "nope" not found\n' });
    expect(await kit(['uninstall', 'nope'])).toEqual({ code: 1, stdout: '', stderr: 'error: kit "nope" not found\n' });
  });
});
