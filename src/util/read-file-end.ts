// Bounded reads of files a guest can make as big as it likes (a machine's console): only one end of the
// file is read, never the whole of it.
import fs from 'node:fs';

function readRange(file: string, maxBytes: number, fromEnd: boolean): Buffer {
  // No symlink to follow, and a FIFO put in the file's place must not block the daemon.
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return Buffer.alloc(0);
    const size = stat.size;
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    const bytesRead = fs.readSync(fd, buf, 0, length, fromEnd ? size - length : 0);
    return buf.subarray(0, bytesRead);
  } finally {
    fs.closeSync(fd);
  }
}

/** The last `maxBytes` bytes of `file` (all of it when shorter). Throws as fs does (ENOENT, ELOOP for a symlink). */
export function readFileTail(file: string, maxBytes: number): Buffer {
  return readRange(file, maxBytes, true);
}

/** The first `maxBytes` bytes of `file` (all of it when shorter). */
export function readFileHead(file: string, maxBytes: number): Buffer {
  return readRange(file, maxBytes, false);
}
