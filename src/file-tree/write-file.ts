// Writes one file atomically (in the guest, or locally for aegis cp): the bytes go to a temp file beside it, which is renamed over the path
// only once all arrived (readers see the old file or the new one, never half of it). A write cut off
// (the host went away, the worker was told to stop) leaves nothing behind: the temp file is removed.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { FileOpError } from './file-errors.js';

const DEFAULT_FILE_MODE = 0o644;

/** Temp files being written, removed by the worker's SIGTERM handler. */
export const pendingTemps = new Set<string>();

function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.aegis-${randomBytes(6).toString('hex')}`);
}

/**
 * Streams `input` into `file`; mode defaults to the replaced file's, else 0644 (set explicitly, so the
 * umask does not apply); mtime, when given, is set before the rename. Resolves with the bytes written.
 */
export async function writeFileAtomic(file: string, input: Readable, opts: { mode?: number; mtime?: number } = {}): Promise<number> {
  let existingMode: number | undefined;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new FileOpError('BAD_REQUEST', 'is a directory (write a tar stream to replace its contents)');
    existingMode = st.mode & 0o7777;
  } catch (err) {
    if (err instanceof FileOpError) throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  return writeThroughTemp(file, input, opts.mode ?? existingMode ?? DEFAULT_FILE_MODE, opts.mtime, fs.renameSync);
}

/**
 * Streams `input` into a temp file beside `file` (tracked in pendingTemps while it is written), then
 * `commit(temp, file)` puts it in place; on any failure the temp file is removed. Resolves with the bytes written.
 */
export async function writeThroughTemp(
  file: string,
  input: Readable,
  mode: number,
  mtime: number | Date | undefined,
  commit: (temp: string, file: string) => void,
): Promise<number> {
  const temp = tempPathFor(file);
  pendingTemps.add(temp);
  try {
    const bytes = await writeInto(temp, input, mode, mtime);
    commit(temp, file);
    return bytes;
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  } finally {
    pendingTemps.delete(temp);
  }
}

/**
 * Creates `temp` (never following a link, never reusing a file) and streams `input` into it; sets its mode
 * and mtime before closing. A raw fd, not a FileHandle: a FileHandle's close waits for streams that
 * never let go of it when they do not close it themselves.
 */
async function writeInto(temp: string, input: Readable, mode: number, mtime: number | Date | undefined): Promise<number> {
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  let bytes = 0;
  try {
    const counted = input.on('data', (c) => void (bytes += (c as Buffer).length));
    await pipeline(counted, fs.createWriteStream('', { fd, autoClose: false }));
    fs.fchmodSync(fd, mode);
    if (mtime !== undefined) fs.futimesSync(fd, new Date(), new Date(mtime));
  } finally {
    fs.closeSync(fd);
  }
  return bytes;
}
