// Creating a file that must never be seen half-written (the secret key): written whole under a temporary
// name in the same directory and flushed, then linked into place and the directory flushed, so a crash at
// any point leaves either no file or the complete one.
import fs from 'node:fs';
import path from 'node:path';

/** Creates `file` with `data` and `mode`; false (and nothing written) when it exists already. */
export function createFileAtomically(file: string, data: Buffer, mode: number): boolean {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // link(2), unlike rename(2), never replaces a file another process created meanwhile.
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
  return true;
}
