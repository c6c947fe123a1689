// A minimal cpio "newc" archive writer: all an initramfs needs (dirs, files, symlinks, device nodes),
// so building one depends on no cpio binary.
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFCHR = 0o020000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

const hex = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);

function record(ino: number, mode: number, name: string, data: Buffer, rdev: [number, number] = [0, 0]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  // Fields: magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check.
  const header = '070701' + [ino, mode, 0, 0, (mode & 0o170000) === S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex).join('');
  const head = Buffer.concat([Buffer.from(header), nameBytes]);
  return [head, pad4(head.length), data, pad4(data.length)];
}

export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    const name = e.path.replace(/^\/+/, '');
    if (e.type === 'dir') parts.push(...record(i + 1, S_IFDIR | (e.mode ?? 0o755), name, Buffer.alloc(0)));
    else if (e.type === 'file') parts.push(...record(i + 1, S_IFREG | (e.mode ?? 0o644), name, e.data));
    else if (e.type === 'chardev') parts.push(...record(i + 1, S_IFCHR | (e.mode ?? 0o600), name, Buffer.alloc(0), [e.major, e.minor]));
    else parts.push(...record(i + 1, S_IFLNK | 0o777, name, Buffer.from(e.target)));
  });
  parts.push(...record(0, 0, 'TRAILER!!!', Buffer.alloc(0)));
  return Buffer.concat(parts);
}
