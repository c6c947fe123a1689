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
import { DaemonError, type DaemonClient } from './daemon-client.js';

/** Where a machine's files are: the API prefix (`/v1/instances/web` or `/v1/tasks/ID`). */
export interface MachineRef {
  base: string;
}

export const instanceRef = (target: string): MachineRef => ({ base: `/v1/instances/${encodeURIComponent(target)}` });
export const taskRef = (id: string): MachineRef => ({ base: `/v1/tasks/${encodeURIComponent(id)}` });

const filesUrl = (m: MachineRef, sub: string, query: Record<string, string>) => `${m.base}/files${sub}?${new URLSearchParams(query).toString()}`;

/** The daemon's answer to a JSON request, or a DaemonError. */
async function readError(res: import('node:http').IncomingMessage): Promise<DaemonError> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: { error?: string; reason?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON
  }
  return new DaemonError(res.statusCode ?? 500, body.reason ?? `HTTP_${res.statusCode}`, body.error ?? (text.trim() || `daemon answered HTTP ${res.statusCode}`));
}

/** A host-side failure as one line naming the path. */
function localFailure(file: string, err: unknown): CliError {
  if (err instanceof CliError || err instanceof DaemonError) return err as CliError;
  return new CliError(`${file}: ${fileErrorOf(err).message}`);
}

/** Whether the guest path is a directory (false when missing). */
async function guestIsDirectory(client: DaemonClient, m: MachineRef, guestPath: string): Promise<boolean> {
  try {
    return (await client.get<{ type: string }>(filesUrl(m, '/stat', { path: guestPath }))).type === 'directory';
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return false;
    throw err;
  }
}

async function put(client: DaemonClient, m: MachineRef, guestPath: string, body: Readable, type: string, query: Record<string, string> = {}): Promise<void> {
  const res = await client.raw('PUT', filesUrl(m, '', { path: guestPath, ...query }), { stream: body, headers: { 'content-type': type } });
  if ((res.statusCode ?? 500) >= 400) throw await readError(res);
  res.resume();
}

/**
 * Host → machine. `src` is a local file or directory, or `-` for stdin (the file's bytes; a tar stream to
 * extract when `guestDest` ends with `/`). As `cp` does, a destination that is a directory (or ends with
 * `/`) receives the source under its own name.
 */
export async function upload(client: DaemonClient, m: MachineRef, src: string, guestDest: string, stdin: Readable): Promise<void> {
  if (src === '-') {
    const tar = guestDest.endsWith('/') && guestDest !== '/';
    return put(client, m, tar ? guestDest.replace(/\/+$/, '') || '/' : guestDest, stdin, tar ? 'application/x-tar' : 'application/octet-stream');
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(src);
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? new CliError(`no such file: ${src}`) : localFailure(src, err);
  }
  const name = path.basename(path.resolve(src));
  const dest = guestDest.endsWith('/') || (await guestIsDirectory(client, m, guestDest)) ? path.posix.join(guestDest, name) : guestDest;
  if (st.isDirectory()) {
    const tar = new PassThrough();
    // A local read error destroys the stream: the daemon sees the upload cut off and commits nothing more.
    packDirectory(src, tar).catch((err: Error) => tar.destroy(localFailure(src, err)));
    return put(client, m, dest, tar, 'application/x-tar');
  }
  if (!st.isFile()) throw new CliError(`${src}: not a regular file or a directory`);
  const input = fs.createReadStream(src, { highWaterMark: 1024 * 1024 });
  return put(client, m, dest, input, 'application/octet-stream', { mode: (st.mode & 0o7777).toString(8), mtime: String(Math.round(st.mtimeMs)) });
}

/**
 * Machine → host. `dest` is a local path (an existing directory receives the source under its own name)
 * or `-` for stdout.
 */
export async function download(client: DaemonClient, m: MachineRef, guestSrc: string, dest: string, stdout: Writable): Promise<void> {
  const res = await client.raw('GET', filesUrl(m, '', { path: guestSrc }));
  if ((res.statusCode ?? 500) >= 400) throw await readError(res);
  const type = res.headers['x-aegis-type'] === 'directory' ? 'directory' : 'file';
  try {
    if (dest === '-') {
      await pipeline(res, stdout, { end: false });
      return;
    }
    let target = dest;
    const existing = statOrUndefined(dest);
    if (existing?.isDirectory() || (dest.endsWith('/') && !existing)) target = path.join(dest, path.posix.basename(guestSrc) || '.');
    if (type === 'file') {
      const mode = parseModeText(String(res.headers['x-aegis-mode'] ?? ''));
      const mtime = Number(res.headers['x-aegis-mtime']);
      await writeFileAtomic(target, res, { ...(mode !== undefined ? { mode } : {}), ...(Number.isSafeInteger(mtime) ? { mtime } : {}) });
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
