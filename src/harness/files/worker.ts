// The file worker: a short-lived child of the harness that performs one file operation as the workload's
// user. `node aegis-harness.mjs --files-worker REQUEST_JSON RESERVED_JSON {"uid","gid"}`: it starts as guest
// root (to load Node from /.aegis) and becomes that uid and gid before anything else. The data of a write arrives on
// stdin. stdout carries one JSON line first, `{"ok": …}` or `{"error": {code, message}}`, then (for a
// read) the data: the file's bytes or a tar stream. Exit 0 once all was sent; any other exit after the
// line means the data is incomplete. SIGTERM stops it and removes the temp files of an unfinished write.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { modeText, MAX_LIST_ITEMS, type FileStat, type FilesReadMeta, type FilesRequest, type FileType } from '../../protocol/files.js';
import { fileErrorOf, FileOpError } from '../../file-tree/file-errors.js';
import { ReservedPaths } from './guest-paths.js';
import { packDirectory } from '../../file-tree/pack-directory.js';
import { extractTar } from '../../file-tree/extract-tar.js';
import { pendingTemps, writeFileAtomic } from '../../file-tree/write-file.js';

export const FILES_WORKER_FLAG = '--files-worker';

/** Reads in large chunks: fewer, fuller writes down the pipe and the channel (bench/file-copy.mjs). */
const READ_CHUNK_BYTES = 1024 * 1024;

/** Becomes the workload's user for good (real, effective and saved ids; no supplementary groups). */
function becomeWorkload(ids: { uid: number; gid: number }): void {
  if (process.geteuid!() === 0) {
    process.setgroups!([]);
    process.setgid!(ids.gid);
    process.setuid!(ids.uid);
  }
  if (process.getuid!() !== ids.uid || process.geteuid!() !== ids.uid || process.getegid!() !== ids.gid) throw new Error('could not switch to the workload user');
}

export async function runFilesWorker(args: string[]): Promise<void> {
  becomeWorkload(JSON.parse(args[2]) as { uid: number; gid: number });
  process.on('SIGTERM', () => {
    for (const temp of pendingTemps) fs.rmSync(temp, { force: true });
    process.exit(143);
  });
  const req = JSON.parse(args[0]) as FilesRequest;
  const reserved = new ReservedPaths(JSON.parse(args[1] ?? '[]') as string[]);
  let answered = false;
  const answer = (line: unknown): Promise<void> => {
    answered = true;
    return new Promise((resolve) => process.stdout.write(`${JSON.stringify(line)}\n`, () => resolve()));
  };
  try {
    await perform(req, reserved, (ok) => answer({ ok }));
  } catch (err) {
    if (answered) {
      // The data was under way: stop with a failure, so the harness resets the stream.
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    }
    const e = fileErrorOf(err);
    await answer({ error: { code: e.code, message: e.message } });
    process.stdin.destroy(); // the rest of a refused write is not read
  }
}

async function perform(req: FilesRequest, reserved: ReservedPaths, ok: (value: unknown) => Promise<void>): Promise<void> {
  const target = req.path;
  switch (req.op) {
    case 'read':
      return read(target, reserved, req.maxBytes, ok);
    case 'write': {
      reserved.checkPath(target);
      const bytes = req.tar ? await extractTar(process.stdin, target, (p) => reserved.checkPath(p)) : await writeFileAtomic(target, process.stdin, { ...(req.mode !== undefined ? { mode: req.mode } : {}), ...(req.mtime !== undefined ? { mtime: req.mtime } : {}) });
      return ok({ path: target, bytes });
    }
    case 'stat':
      reserved.checkPath(target);
      return ok(statOf(target, target));
    case 'list': {
      reserved.checkPath(target);
      if (!fs.statSync(target).isDirectory()) throw new FileOpError('BAD_REQUEST', 'is not a directory');
      const names = fs.readdirSync(target).sort();
      const items: FileStat[] = [];
      for (const name of names.slice(0, MAX_LIST_ITEMS)) {
        try {
          items.push(statOf(path.posix.join(target, name), path.join(target, name)));
        } catch {
          // removed while we listed
        }
      }
      return ok({ items, ...(names.length > MAX_LIST_ITEMS ? { truncated: names.length - MAX_LIST_ITEMS } : {}) });
    }
    case 'delete': {
      if (path.resolve('/', target) === '/') throw new FileOpError('BAD_REQUEST', 'the root directory cannot be deleted');
      reserved.checkPath(target, { containing: true });
      const st = fs.lstatSync(target);
      if (st.isDirectory() && !req.recursive) throw new FileOpError('BAD_REQUEST', 'is a directory (delete it with recursive=1)');
      fs.rmSync(target, { recursive: st.isDirectory() });
      return ok({ path: target, deleted: true });
    }
  }
}

async function read(target: string, reserved: ReservedPaths, maxBytes: number | undefined, ok: (value: FilesReadMeta) => Promise<void>): Promise<void> {
  reserved.checkPath(target);
  // O_NONBLOCK: a FIFO planted at the path must not hang the worker in open().
  const fd = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  reserved.checkFd(fd);
  const st = fs.fstatSync(fd);
  const meta = { size: st.size, mode: modeText(st.mode), mtime: Math.round(st.mtimeMs) };
  if (st.isDirectory()) {
    fs.closeSync(fd);
    await ok({ type: 'directory', ...meta, size: 0 });
    return packDirectory(target, process.stdout);
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new FileOpError('BAD_REQUEST', 'is not a regular file or a directory');
  }
  const length = maxBytes === undefined ? st.size : Math.min(st.size, maxBytes);
  await ok({ type: 'file', ...meta, ...(length < st.size ? { truncated: st.size - length } : {}) });
  if (length === 0) return void fs.closeSync(fd);
  // Exactly the length announced: a file that shrinks meanwhile fails the read rather than sending less.
  let sent = 0;
  const input = fs.createReadStream('', { fd, start: 0, end: length - 1, highWaterMark: READ_CHUNK_BYTES });
  input.on('data', (c) => void (sent += c.length));
  await pipeline(input, process.stdout, { end: false });
  if (sent !== length) throw new Error(`the file changed size while it was read (${sent} of ${length} bytes)`);
}

function statOf(shown: string, file: string): FileStat {
  const st = fs.lstatSync(file);
  const type: FileType = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
  return {
    path: shown,
    type,
    size: st.size,
    mode: modeText(st.mode),
    mtime: Math.round(st.mtimeMs),
    ...(type === 'symlink' ? { target: fs.readlinkSync(file) } : {}),
  };
}
