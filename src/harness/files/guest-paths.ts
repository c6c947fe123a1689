// Where a file operation may not go, and how a path is checked against that after it was resolved.
//
// Confinement itself needs no code: the worker runs inside the guest (the machine's root is its root), so
// `..` at / stays at /, and an absolute symlink (`/etc/shadow`) resolves to the guest's own file. What is
// left is the harness's own: the directory of its control socket (or its device). Guest root may reach
// that with exec too, but the file API is not to be a way to it: paths that resolve there are refused.
import fs from 'node:fs';
import path from 'node:path';
import { FileOpError } from '../../file-tree/file-errors.js';
import { isInside } from '../../file-tree/inside.js';

export class ReservedPaths {
  constructor(private readonly reserved: string[]) {}

  /** Refuses an open fd whose file lies in a reserved place (race-free: the kernel says where the fd is). */
  checkFd(fd: number): void {
    let where: string;
    try {
      where = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return; // no /proc in this guest: checkPath ran before the open
    }
    this.check(where);
  }

  /** Refuses `p` when it, resolved as far as it exists, lies in a reserved place (or contains one, for deletes). */
  checkPath(p: string, opts: { containing?: boolean } = {}): void {
    const resolved = resolveExisting(p);
    this.check(resolved);
    if (opts.containing && this.reserved.some((r) => isInside(r, resolved))) throw refusal();
  }

  private check(resolved: string): void {
    if (this.reserved.some((r) => isInside(resolved, r))) throw refusal();
  }
}

const refusal = () => new FileOpError('PERMISSION_DENIED', "belongs to the machine's harness (its control channel)");

/** `p` with its longest existing prefix resolved (symlinks followed), the rest appended as written. */
export function resolveExisting(p: string): string {
  const abs = path.resolve('/', p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse());
    } catch {
      if (head === '/') return abs;
      tail.push(path.basename(head));
      head = path.dirname(head);
    }
  }
}
