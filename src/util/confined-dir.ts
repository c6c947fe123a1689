// Reading files on behalf of a directory whose contents are not trusted (the watched directory): a path is
// opened only when it resolves inside the directory, symlinks included, at the moment of the open; and only
// a regular file (or a directory, where asked), never a FIFO or device, whose mere opening can block or act.
import fs from 'node:fs';
import path from 'node:path';
import { invalid } from '../errors/codes.js';
import { ConfinementError } from './confinement-error.js';
import { openBeneath } from './libc.js';
import { clipInput } from './quote-input.js';

const { O_RDONLY, O_NONBLOCK, O_NOCTTY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;

export type EntryKind = 'file' | 'directory';

export class ConfinedDir {
  private constructor(
    /** The directory as configured (absolute). */
    readonly dir: string,
    /** Its real path: what every opened file must lie under. */
    readonly real: string,
    /** How errors name it: `the watched directory /srv/deploy`. */
    private readonly label: string,
  ) {}

  /** AEGIS_INVALID when `dir` does not exist. */
  static of(dir: string, label = `the watched directory ${path.resolve(dir)}`): ConfinedDir {
    const abs = path.resolve(dir);
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch (err) {
      throw invalid(`cannot read ${clipInput(abs)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    return new ConfinedDir(abs, real, label);
  }

  /** The path relative to the directory when it lies in it as written (after `.` and `..`), else undefined. */
  relative(p: string): string | undefined {
    const abs = path.resolve(p);
    return relativeInside(this.dir, abs) ?? relativeInside(this.real, abs);
  }

  /**
   * An fd (caller closes) of the regular file, or directory, `p` names; AEGIS_INVALID naming `p` and the
   * reason when it lies or leads outside, or is something else. Other errors (ENOENT…) pass with their code.
   */
  open(p: string, kind: EntryKind = 'file'): number {
    const rel = this.relative(p);
    if (rel === undefined) throw new ConfinementError(p, `is outside ${this.label}; not read`);
    const flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | (kind === 'directory' ? O_DIRECTORY : 0);
    const root = fs.openSync(this.real, O_RDONLY | O_DIRECTORY);
    let fd: number;
    try {
      fd = this.openIn(root, p, rel, flags);
    } finally {
      fs.closeSync(root);
    }
    const st = fs.fstatSync(fd);
    if (kind === 'file' ? !st.isFile() : !st.isDirectory()) {
      fs.closeSync(fd);
      throw new ConfinementError(p, `is not a ${kind === 'file' ? 'regular file' : 'directory'}; not read`);
    }
    return fd;
  }

  /** The whole file, refused when larger than maxBytes (nothing a daemon reads from here needs more). */
  readFile(p: string, maxBytes: number): Buffer {
    const fd = this.open(p);
    try {
      const size = fs.fstatSync(fd).size;
      if (size > maxBytes) throw new ConfinementError(p, `is larger than ${maxBytes} bytes; not read`);
      const buf = Buffer.alloc(size);
      let got = 0;
      while (got < size) {
        const n = fs.readSync(fd, buf, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Whether `p` exists and what it is, without opening it; AEGIS_INVALID when it resolves outside. */
  kindOf(p: string): EntryKind | 'other' {
    const real = fs.realpathSync(p);
    if (relativeInside(this.real, real) === undefined) throw this.leadsOut(p);
    const st = fs.statSync(real);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  }

  private leadsOut(p: string): ConfinementError {
    return new ConfinementError(p, `leads outside ${this.label} through a symlink; not read`);
  }

  private openIn(root: number, shown: string, rel: string, flags: number): number {
    const leadsOut = () => this.leadsOut(shown);
    try {
      return openBeneath(root, rel || '.', flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSYS') return this.openWithoutOpenat2(shown, rel, flags);
      if (code !== 'EXDEV') throw err;
    }
    // EXDEV: a symlink leaves the directory, or is absolute (which BENEATH refuses even when it points back
    // in). Follow the real path when it lies inside, again beneath the root: still race-free.
    let real: string;
    try {
      real = fs.realpathSync(path.join(this.real, rel));
    } catch {
      throw leadsOut();
    }
    const inside = relativeInside(this.real, real);
    if (inside === undefined) throw leadsOut();
    try {
      return openBeneath(root, inside || '.', flags);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EXDEV') throw leadsOut();
      throw err;
    }
  }

  /** Kernels before 5.6: check the real path, open it without following a last symlink, check the fd's path. */
  private openWithoutOpenat2(shown: string, rel: string, flags: number): number {
    const real = fs.realpathSync(path.join(this.real, rel));
    if (relativeInside(this.real, real) === undefined) throw this.leadsOut(shown);
    const fd = fs.openSync(real, flags | O_NOFOLLOW);
    if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== real) {
      fs.closeSync(fd);
      throw this.leadsOut(shown);
    }
    return fd;
  }
}

/** `p` relative to `dir` when it lies in it ('' for dir itself), else undefined; both absolute and normalized. */
function relativeInside(dir: string, p: string): string | undefined {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel)) ? rel : undefined;
}
