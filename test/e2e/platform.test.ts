// aegis up / status / down / doctor / help against a real daemon in a temp AEGIS_HOME.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/daemon/pid-file.js';
import { withTempHome, type TempHome } from '../support/temp-home.js';

describe('platform commands', () => {
  let t: TempHome;
  beforeEach(() => {
    t = withTempHome();
  });
  afterEach(() => t.dispose());

  it('status without a daemon says it is not running and exits non-zero', async () => {
    const r = await t.aegis(['status']);
    expect(r.stdout).toBe('aegisd: not running\n');
    expect(r.code).toBe(1);
  });

  it('up, status, down behave as the seed shows, twice in a row', async () => {
    for (let round = 0; round < 2; round++) {
      const up = await t.aegis(['up']);
      expect(up.code, up.stderr).toBe(0);
      const pid = Number(/^aegisd started \(pid (\d+)\)\n$/.exec(up.stdout)?.[1]);
      expect(pid).toBeGreaterThan(0);
      expect(fs.readFileSync(path.join(t.home, 'data', 'aegisd.pid'), 'utf8').trim()).toBe(String(pid));
      expect((fs.statSync(path.join(t.home, 'aegisd.sock')).mode & 0o777)).toBe(0o600);

      const again = await t.aegis(['up']);
      expect(again).toMatchObject({ code: 0, stdout: `aegisd already running (pid ${pid})\n` });

      const status = await t.aegis(['status']);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/^aegisd: running\nbackend: \S+/);

      const down = await t.aegis(['down']);
      expect(down).toMatchObject({ code: 0, stdout: `aegisd stopping (pid ${pid})\naegisd stopped\n` });
      expect(isAlive(pid)).toBe(false); // exited (maybe not yet reaped by its new parent)
      expect(fs.existsSync(path.join(t.home, 'data', 'aegisd.pid'))).toBe(false);
      expect(fs.existsSync(path.join(t.home, 'aegisd.sock'))).toBe(false);
    }
    expect(await t.aegis(['down'])).toMatchObject({ code: 0, stdout: 'aegisd is not running\n' });
  });

  it('doctor reports host checks, and with a daemon its backend and capabilities', async () => {
    const before = await t.aegis(['doctor']);
    expect(before.stdout).toMatch(/^Aegis Doctor\n============\n/);
    expect(before.stdout).toMatch(/e2fsprogs: +(found|not found)/);
    expect(before.stdout).toMatch(/aegisd: +not running/);
    await t.aegis(['up']);
    const r = await t.aegis(['doctor']);
    expect(r.stdout).toMatch(/aegisd: +running/);
    expect(r.stdout).toMatch(/sandbox: +(available|unavailable) \(.+\)/);
    // qemu is available wherever the package is installed (TCG without KVM), but never the automatic pick then.
    expect(r.stdout).toMatch(/qemu: +(available|unavailable) \(.+\)/);
    expect(r.stdout).toContain('Capabilities:\n  Pause/Resume:          ');
    expect(r.stdout).toMatch(/Installed kits: 0\n$/);
  });

  it('help lists every group; a group help lists its commands', async () => {
    const top = await t.aegis(['help']);
    expect(top.code).toBe(0);
    for (const c of ['aegis up', 'aegis run', 'aegis app create', 'aegis secret set', 'aegis kit install', 'aegis exec']) expect(top.stdout).toContain(c);
    const app = await t.aegis(['app', 'help']);
    expect(app.code).toBe(0);
    expect(app.stdout).toContain('aegis app publish');
    expect(app.stdout).not.toContain('aegis kit install');
  });

  it('bad flags are usage errors with a non-zero exit', async () => {
    const r = await t.aegis(['app', 'create', '--image', 'x', '--', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/--name/);
  });
});
