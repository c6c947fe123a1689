// Copies between the host and a machine through the daemon's file routes (FILES-CONTRACT.md), for `aegis
// cp` and `aegis run --copy/--artifacts`. Files and directories stream both ways (a directory as tar); on
// the host side nothing is left half-written: a file goes through a temp file and a rename, a new
// directory is extracted beside its place and renamed into it. `-` is stdin/stdout: a file's bytes, or
// with a directory a tar stream (as `docker cp` does).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractTar } from '../../file-tree/extract-tar.js';
import { fileErrorOf } from '../../file-tree/file-errors.js';
import { packDirectory } from '../../file-tree/pack-directory.js';
import { writeFileAtomic } from '../../file-tree/write-file.js';
import { parseModeText } from '../../protocol/files.js';
import { CliError } from '../cli-error.js';
import { AegisApiError } from '../../sdk/errors.js';
import type { FileCallOptions, Files, FilesTarget } from '../../sdk/files.js';

/** Whose files: an instance (or app) by name, or a task's machine. */
export const instanceRef = (target: string): FilesTarget => target;
export const taskRef = (id: string): FilesTarget => ({ task: id });

/** A host-side failure as one line naming the path. */
function localFailure(file: string, err: unknown): CliError {
  if (err instanceof CliError || err instanceof AegisApiError) return err as CliError;
  return new CliError(`${file}: ${fileErrorOf(err).message}`);
}

/** Whether the guest path is a directory (false when missing). */
async function guestIsDirectory(files: Files, m: FilesTarget, guestPath: string, opts: FileCallOptions): Promise<boolean> {
  try {
    return (await files.stat(m, guestPath, opts)).type === 'directory';
  } catch (err) {
    if (err instanceof AegisApiError && err.status === 404) return false;
    throw err;
  }
}

/**
 * Host → machine. `src` is a local file or directory, or `-` for stdin (the file's bytes; a tar stream to
 * extract when `guestDest` ends with `/`). As `cp` does, a destination that is a directory (or ends with
 * `/`) receives the source under its own name. `opts` (a time limit, a signal) goes with every call.
 */
export async function upload(files: Files, m: FilesTarget, src: string, guestDest: string, stdin: Readable, opts: FileCallOptions = {}): Promise<void> {
  if (src === '-') {
    const tar = guestDest.endsWith('/') && guestDest !== '/';
    const dest = guestDest.replace(/\/+$/, '') || '/';
    await (tar ? files.writeTar(m, dest, stdin, opts) : files.write(m, guestDest, stdin, opts));
    return;
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(src);
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? new CliError(`no such file: ${src}`) : localFailure(src, err);
  }
  const name = path.basename(path.resolve(src));
  const dest = guestDest.endsWith('/') || (await guestIsDirectory(files, m, guestDest, opts)) ? path.posix.join(guestDest, name) : guestDest;
  if (st.isDirectory()) {
    const tar = new PassThrough();
    // A local read error destroys the stream: the daemon sees the upload cut off and commits nothing more.
    packDirectory(src, tar).catch((err: Error) => tar.destroy(localFailure(src, err)));
    await files.writeTar(m, dest, tar, opts);
    return;
  }
  if (!st.isFile()) throw new CliError(`${src}: not a regular file or a directory`);
  const input = fs.createReadStream(src, { highWaterMark: 1024 * 1024 });
  await files.write(m, dest, input, { ...opts, mode: st.mode & 0o7777, mtime: Math.round(st.mtimeMs) });
}

/**
 * Machine → host. `dest` is a local path (an existing directory receives the source under its own name)
 * or `-` for stdout.
 */
export async function download(files: Files, m: FilesTarget, guestSrc: string, dest: string, stdout: Writable, opts: FileCallOptions = {}): Promise<void> {
  const { body: res, type, mode, mtime } = await files.download(m, guestSrc, opts);
  try {
    if (dest === '-') {
      await pipeline(res, stdout, { end: false });
      return;
    }
    let target = dest;
    const existing = statOrUndefined(dest);
    if (existing?.isDirectory() || (dest.endsWith('/') && !existing)) target = path.join(dest, path.posix.basename(guestSrc) || '.');
    if (type === 'file') {
      const bits = parseModeText(mode ?? '');
      await writeFileAtomic(target, res, { ...(bits !== undefined ? { mode: bits } : {}), ...(mtime !== undefined && Number.isSafeInteger(mtime) ? { mtime } : {}) });
      return;
    }
    if (statOrUndefined(target)) {
      await extractTar(res, target); // into an existing directory: merged, file by file
      return;
    }
    // A new directory appears whole or not at all.
    const temp = `${target.replace(/\/+$/, '')}.aegis-${randomBytes(6).toString('hex')}`;
    try {
      await extractTar(res, temp);
      fs.renameSync(temp, target);
    } catch (err) {
      fs.rmSync(temp, { recursive: true, force: true });
      throw err;
    }
  } catch (err) {
    res.destroy();
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
      throw new CliError(`${guestSrc}: the copy broke off before the end`);
    }
    throw localFailure(dest, err);
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}
