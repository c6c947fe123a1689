// AES-256-GCM sealing of secret values under a 32-byte key file; the value's identity is bound as AAD.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AegisError } from '../errors/codes.js';
import { createFileAtomically } from '../util/create-file-atomically.js';

const PREFIX = 'aegis-sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Loads the key file, creating it (mode 0600, atomically: never seen empty) on first use. Refuses a key readable by others. */
  static fromKeyFile(file: string): SecretBox {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    createFileAtomically(file, crypto.randomBytes(KEY_BYTES), 0o600);
    const st = fs.statSync(file);
    if ((st.mode & 0o077) !== 0) {
      throw new AegisError('AEGIS_INVALID', `secret key file ${file} is readable by other users; run: chmod 600 ${file}`);
    }
    const key = fs.readFileSync(file);
    if (key.length !== KEY_BYTES) {
      // Older versions wrote the key after creating the file: a crash between left it empty.
      const what = key.length === 0 ? 'is empty' : `is ${key.length} bytes, not ${KEY_BYTES}`;
      throw new AegisError(
        'AEGIS_INVALID',
        `secret key file ${file} ${what}: restore it from a backup, or if no secret was ever stored in this AEGIS_HOME, delete it and start again (a new key is made)`,
      );
    }
    return new SecretBox(key);
  }

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }

  seal(plaintext: string, aad: string): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
  }

  /** Decrypts a sealed value; a modified, swapped or foreign value fails the GCM check. */
  open(sealed: string, aad: string): string {
    if (!SecretBox.isSealed(sealed)) throw new AegisError('AEGIS_INTERNAL', `secret ${aad} is not sealed`);
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new AegisError('AEGIS_INTERNAL', `secret ${aad} is corrupt`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      // Never echo the ciphertext or key material: name only which secret failed.
      throw new AegisError('AEGIS_INTERNAL', `secret ${aad} failed its integrity check (tampered, or sealed with another key)`);
    }
  }
}
