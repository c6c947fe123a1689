// Issue 21, item 17: the secret key file was created empty and written afterwards, so a crash between left a
// 0-byte (or short) key the daemon then refused. Now it appears whole or not at all, and a short one says why.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, withTempHome, type TempHome } from '../support/temp-home.js';

describe('the secret key file', () => {
  let t: TempHome;
  let keyFile: string;
  beforeEach(() => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    keyFile = path.join(t.home, 'secret.key');
  });
  afterEach(() => t.dispose());

  it('a daemon that dies while writing the key leaves no partial key, and the next start works', async () => {
    // The crash: a file size limit of 16 bytes lets the daemon write its lock file, then fails the key's
    // write half-way (EFBIG), the way a full disk or a kill between the steps would.
    const crashed = spawnSync('prlimit', ['--fsize=16', process.execPath, path.join(ROOT, 'bin', 'aegisd')], { env: t.env, encoding: 'utf8', timeout: 30_000 });
    expect(crashed.status, crashed.stderr).toBe(1);
    expect(crashed.stderr).toMatch(/EFBIG|too large/i);
    // Never a key of the wrong size (and no temporary file left beside it).
    if (fs.existsSync(keyFile)) expect(fs.statSync(keyFile).size).toBe(32);
    expect(fs.readdirSync(t.home).filter((f) => f.includes('secret.key'))).toEqual(fs.existsSync(keyFile) ? ['secret.key'] : []);

    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(fs.statSync(keyFile).size).toBe(32);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('an empty key file stops the daemon with one line naming the file and what to do', async () => {
    fs.writeFileSync(keyFile, '', { mode: 0o600 });
    const up = await t.aegis(['up']);
    expect(up.code).toBe(1);
    const message = up.stderr.trim();
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(`secret key file ${keyFile} is empty`);
    expect(message).toContain('restore it from a backup');
    expect(message).toContain('delete it and start again');
    expect(fs.statSync(keyFile).size).toBe(0); // never replaced behind the operator's back
  });

  it('a short key file is refused the same way, with its size', async () => {
    fs.writeFileSync(keyFile, Buffer.alloc(16, 7), { mode: 0o600 });
    const up = await t.aegis(['up']);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`secret key file ${keyFile} is 16 bytes, not 32: restore it from a backup`);
  });
});
