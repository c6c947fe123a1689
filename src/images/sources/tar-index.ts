// Where each regular file's bytes sit inside an uncompressed tar, so members can be streamed by offset
// without extracting the archive (a `docker save` file holds whole layers as members).
import fs from 'node:fs';
import { invalid } from '../../errors/codes.js';
import { openLocalFile, type OpenLocalFile } from './image-source.js';

export interface TarMember {
  /** Byte offset of the member's data in the archive. */
  offset: number;
  size: number;
}

const BLOCK = 512;

/** Maps member paths (normalized, no leading `./`) to their data; reads only the headers. */
export function indexTar(file: string, open: OpenLocalFile = openLocalFile): Map<string, TarMember> {
  const fd = open(file);
  const members = new Map<string, TarMember>();
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  try {
    const total = fs.fstatSync(fd).size;
    while (pos + BLOCK <= total) {
      if (fs.readSync(fd, header, 0, BLOCK, pos) !== BLOCK) break;
      if (header.every((b) => b === 0)) break;
      const size = readSize(header.subarray(124, 136), file);
      const type = String.fromCharCode(header[156]!);
      const dataAt = pos + BLOCK;
      if (dataAt + size > total) throw invalid(`${file} is truncated: a member runs past the end of the archive`);
      if (type === 'x' || type === 'L') {
        const data = Buffer.alloc(size);
        fs.readSync(fd, data, 0, size, dataAt);
        longName = type === 'L' ? cString(data) : (paxPath(data.toString('utf8')) ?? longName);
      } else {
        const prefix = header.subarray(257, 263).toString('latin1').startsWith('ustar') ? cString(header.subarray(345, 500)) : '';
        const name = longName ?? (prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
        longName = undefined;
        if (type === '0' || type === '\0' || type === '7') members.set(name.replace(/^(\.\/)+/, ''), { offset: dataAt, size });
      }
      pos = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    fs.closeSync(fd);
  }
  return members;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** Octal, or base-256 (high bit set) for sizes over 8 GiB. */
function readSize(field: Buffer, file: string): number {
  if (field[0]! & 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = cString(field).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`${file} is not a tar archive`);
  return parseInt(text, 8);
}

/** The `path` record of a PAX extended header ("<len> path=<value>\n" records). */
function paxPath(text: string): string | undefined {
  for (const rec of text.split('\n')) {
    const m = /^\d+ path=(.*)$/s.exec(rec);
    if (m) return m[1];
  }
  return undefined;
}
