// Resolving an exec's user against a guest's /etc/passwd and /etc/group (a temp dir stands in for /etc).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRunAs } from '../../src/harness/run-as.js';

const dirs: string[] = [];
function etc(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-etc-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const db = etc({ passwd: 'root:x:0:0::/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\nbroken:x::::/:/bin/sh\n', group: 'app:x:1001:\nstaff:x:50:app\n' });

describe('resolveRunAs', () => {
  it('takes numbers as they are, with the passwd entry filling in gid and home when there is one', () => {
    expect(resolveRunAs('65534:65534', db)).toEqual({ uid: 65534, gid: 65534, home: '/' });
    expect(resolveRunAs('1000', db)).toEqual({ uid: 1000, gid: 1001, home: '/home/app' });
    expect(resolveRunAs('4242', db)).toEqual({ uid: 4242, gid: 0, home: '/' });
    expect(resolveRunAs('0', etc({}))).toEqual({ uid: 0, gid: 0, home: '/root' });
  });

  it('looks names up in passwd and group', () => {
    expect(resolveRunAs('app', db)).toEqual({ uid: 1000, gid: 1001, home: '/home/app' });
    expect(resolveRunAs('app:staff', db)).toEqual({ uid: 1000, gid: 50, home: '/home/app' });
    expect(resolveRunAs('app:7', db)).toEqual({ uid: 1000, gid: 7, home: '/home/app' });
  });

  it('says why a user cannot be used', () => {
    expect(resolveRunAs('ghost', db)).toEqual({ error: 'no such user in /etc/passwd' });
    expect(resolveRunAs('app:nope', db)).toEqual({ error: 'no group "nope" in /etc/group' });
    expect(resolveRunAs('a b', db)).toMatchObject({ error: expect.stringMatching(/^not a uid or user name/) });
    expect(resolveRunAs('1:2:3', db)).toMatchObject({ error: expect.stringMatching(/^not a uid/) });
    expect(resolveRunAs('99999999999', db)).toMatchObject({ error: expect.stringMatching(/^not a uid/) });
    // An entry with an empty uid field is refused, never taken for uid 0.
    expect(resolveRunAs('broken', db)).toEqual({ error: 'its entry in /etc/passwd or /etc/group has an invalid id' });
  });

  it('does not block on a passwd that is a FIFO', () => {
    const dir = etc({});
    execFileSync('mkfifo', [path.join(dir, 'passwd')]);
    expect(resolveRunAs('app', dir)).toEqual({ error: 'no such user in /etc/passwd' });
  });
});
