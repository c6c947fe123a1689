// `-ie A=1`: clipanion reads a batch of short flags as booleans, so --env received `true`; the command died with
// "pair.indexOf is not a function". It is now a one-line usage error saying how to write it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const AEGIS = path.resolve('bin/aegis');

describe('a value-taking -e inside a batch of short flags', () => {
  it.each([
    ['exec', 'web', '-ie', 'A=1', '--', 'true'],
    ['run', '-eu', 'A=1', '--', 'true'],
  ])('%s is refused by name, not with a TypeError', (...argv) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-envbatch-'));
    try {
      const r = spawnSync(AEGIS, argv, { env: { ...process.env, AEGIS_HOME: home }, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('-e/--env takes KEY=VALUE as the next word: write -i -e A=1, not -ie A=1');
      expect(r.stdout + r.stderr).not.toMatch(/TypeError|indexOf/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
