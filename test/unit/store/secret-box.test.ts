import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../../../src/store/secret-box.js';

describe('SecretBox', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-box-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates a 32-byte key file with mode 0600 on first use and reuses it', () => {
    const file = path.join(dir, 'secret.key');
    const a = SecretBox.fromKeyFile(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(file).size).toBe(32);
    const sealed = a.seal('v', 'id');
    expect(SecretBox.fromKeyFile(file).open(sealed, 'id')).toBe('v');
  });

  it('round-trips values and never contains the plaintext', () => {
    const box = SecretBox.fromKeyFile(path.join(dir, 'k'));
    const sealed = box.seal('sk-live-123456', 'secret/web/API_KEY');
    expect(sealed).not.toContain('sk-live-123456');
    expect(SecretBox.isSealed(sealed)).toBe(true);
    expect(box.open(sealed, 'secret/web/API_KEY')).toBe('sk-live-123456');
    expect(box.seal('same', 'a')).not.toBe(box.seal('same', 'a')); // fresh IV every time
  });

  it('detects tampering, a value moved to another key, and a foreign key file', () => {
    const box = SecretBox.fromKeyFile(path.join(dir, 'k'));
    const sealed = box.seal('value', 'secret/a/K');
    const raw = Buffer.from(sealed.slice('aegis-sealed:v1:'.length), 'base64');
    raw[raw.length - 1] ^= 1;
    const tampered = 'aegis-sealed:v1:' + raw.toString('base64');
    expect(() => box.open(tampered, 'secret/a/K')).toThrow(/integrity check/);
    expect(() => box.open(sealed, 'secret/b/K')).toThrow(/integrity check/);
    const other = SecretBox.fromKeyFile(path.join(dir, 'other'));
    expect(() => other.open(sealed, 'secret/a/K')).toThrow(/integrity check/);
  });

  it('refuses a key file readable by others', () => {
    const file = path.join(dir, 'k');
    SecretBox.fromKeyFile(file);
    fs.chmodSync(file, 0o644);
    expect(() => SecretBox.fromKeyFile(file)).toThrow(/chmod 600/);
  });
});
