// Extracts a tar stream into a directory (created when missing), in the guest (a write) or on the host (aegis cp): files each written atomically
// (temp + rename, see write-file.ts), mode and mtime kept, directories' modes and times set last (so a
// read-only directory still receives its entries), symlinks made as stored. Entries are streamed: no file
// is held in memory. An entry that would land outside the directory (an absolute name, `..`, or a path
// through a symlink an earlier entry made) is refused and the extraction stops there. Owners are not
// restored: the files belong to whoever the operation runs as, like any file that user writes.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { FileOpError } from './file-errors.js';
import { isInside } from './inside.js';
import { writeThroughTemp } from './write-file.js';

type Entry = tar.ExtractEvents['entry'][1];

/** `refuse` may throw for an entry's target path (the harness's own places, in the guest). */
export async function extractTar(input: Readable, dir: string, refuse?: (target: string) => void): Promise<number> {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  }
  if (st && !st.isDirectory()) throw new FileOpError('BAD_REQUEST', 'is not a directory (a tar stream extracts into a directory)');
  const root = fs.realpathSync(dir);
  const dirs: { path: string; mode: number; mtime?: Date }[] = [];
  let bytes = 0;
  const extract = tar.extract();
  const fed = pipeline(input, extract);
  fed.catch(() => undefined); // reported below, after the entries
  try {
    // One entry at a time: the next is read only once this one is on disk (back-pressure to the input).
    for await (const entry of extract) bytes += await extractEntry(root, entry.header, entry, dirs, refuse);
  } catch (err) {
    extract.destroy();
    input.destroy();
    throw err;
  }
  await fed;
  for (const d of dirs.reverse()) {
    fs.chmodSync(d.path, d.mode);
    if (d.mtime) fs.utimesSync(d.path, new Date(), d.mtime);
  }
  return bytes;
}

/** The entry's path inside `root`, or a refusal naming it. */
function targetOf(root: string, name: string): string | undefined {
  const clean = path.posix.normalize(name.replace(/^(\.\/)+/, ''));
  if (clean === '.' || clean === './' || clean === '') return undefined; // the directory itself
  if (path.posix.isAbsolute(name) || clean === '..' || clean.startsWith('../')) {
    throw new FileOpError('BAD_REQUEST', `tar entry "${name}" would land outside the directory`);
  }
  const target = path.join(root, clean);
  // Its parent, as it exists now (earlier entries may have made a symlink on the way), must be inside root.
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true, mode: 0o755 });
  if (!isInside(fs.realpathSync(parent), root)) throw new FileOpError('BAD_REQUEST', `tar entry "${name}" goes through a symlink out of the directory`);
  return target;
}

async function extractEntry(root: string, header: tar.Header, stream: Entry, dirs: { path: string; mode: number; mtime?: Date }[], refuse?: (target: string) => void): Promise<number> {
  const target = targetOf(root, header.name);
  if (target) refuse?.(target);
  const mode = (header.mode ?? 0o644) & 0o7777;
  if (!target) {
    // The directory itself (`./`): its mode and mtime, set last like every directory's.
    stream.resume();
    if (header.type === 'directory') dirs.push({ path: root, mode, ...(header.mtime ? { mtime: header.mtime } : {}) });
    return 0;
  }
  switch (header.type) {
    case 'directory': {
      stream.resume();
      try {
        if (!fs.lstatSync(target).isDirectory()) fs.rmSync(target, { force: true });
      } catch {
        // missing
      }
      fs.mkdirSync(target, { recursive: true, mode: 0o700 });
      fs.chmodSync(target, mode | 0o700); // writable by us until every entry is in
      dirs.push({ path: target, mode, ...(header.mtime ? { mtime: header.mtime } : {}) });
      return 0;
    }
    case 'file':
    case 'contiguous-file':
      return writeThroughTemp(target, stream as unknown as Readable, mode, header.mtime, replaceWith);
    case 'symlink': {
      stream.resume();
      removeNonDirectory(target);
      fs.symlinkSync(header.linkname ?? '', target);
      if (header.mtime) fs.lutimesSync(target, new Date(), header.mtime);
      return 0;
    }
    case 'link': {
      stream.resume();
      const source = targetOf(root, header.linkname ?? '');
      if (!source) throw new FileOpError('BAD_REQUEST', `tar entry "${header.name}" links to the directory itself`);
      removeNonDirectory(target);
      fs.linkSync(source, target);
      return 0;
    }
    default:
      // FIFOs, devices and the like: nothing to copy into a file tree.
      stream.resume();
      return 0;
  }
}

function replaceWith(temp: string, target: string): void {
  try {
    if (fs.lstatSync(target).isDirectory()) throw new FileOpError('BAD_REQUEST', `${path.basename(target)} is a directory in the guest and a file in the archive`);
  } catch (err) {
    if (err instanceof FileOpError) throw err;
  }
  fs.renameSync(temp, target);
}

function removeNonDirectory(target: string): void {
  try {
    if (fs.lstatSync(target).isDirectory()) throw new FileOpError('BAD_REQUEST', `${path.basename(target)} is a directory in the guest and a link in the archive`);
    fs.rmSync(target, { force: true });
  } catch (err) {
    if (err instanceof FileOpError) throw err;
  }
}
