// The git commit a watched directory is at (shown by `aegis status`), read from the repository's own files:
// HEAD, loose refs, packed-refs. Never by running git: the directory is not trusted, and git runs commands
// its repository config names (core.fsmonitor, hooks…) with the daemon's authority.
import fs from 'node:fs';
import path from 'node:path';
import { ConfinedDir } from '../util/confined-dir.js';

/** Like `git rev-parse --short=12`. */
const SHORT = 12;
/** SHA-1 or SHA-256 object names. */
const OBJECT_NAME = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const MAX_REF_FILE_BYTES = 64 * 1024;
const MAX_PACKED_REFS_BYTES = 32 * 1024 * 1024;
/** Symbolic refs pointing at symbolic refs: git allows 5 levels. */
const MAX_SYMREF_DEPTH = 5;

interface Repository {
  /** The `.git` directory (a worktree's own, for a linked worktree). */
  gitDir: ConfinedDir;
  /** Where shared refs and packed-refs live (the main `.git` for a linked worktree, else gitDir). */
  commonDir: ConfinedDir;
}

/** HEAD of the git work tree containing `dir`, abbreviated, or undefined (not a work tree, unborn, unreadable). */
export function gitRevision(dir: string): string | undefined {
  try {
    const repo = findRepository(path.resolve(dir));
    return repo ? resolveRef(repo, 'HEAD', 0)?.slice(0, SHORT) : undefined;
  } catch {
    return undefined;
  }
}

/** The `.git` of `dir` or its nearest ancestor, as git finds it (a directory, or a `gitdir:` file). */
function findRepository(dir: string): Repository | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    const dotGit = path.join(d, '.git');
    const st = fs.statSync(dotGit, { throwIfNoEntry: false });
    if (st?.isDirectory()) return repository(ConfinedDir.of(dotGit, `git directory ${dotGit}`));
    if (st?.isFile()) {
      // A linked worktree or submodule: `gitdir: PATH`, relative to the directory holding the file.
      const line = ConfinedDir.of(d, d).readFile(dotGit, MAX_REF_FILE_BYTES).toString('utf8').split('\n')[0]!;
      if (!line.startsWith('gitdir: ')) return undefined;
      const gitDir = path.resolve(d, line.slice('gitdir: '.length).trim());
      return repository(ConfinedDir.of(gitDir, `git directory ${gitDir}`));
    }
    if (path.dirname(d) === d) return undefined;
  }
}

function repository(gitDir: ConfinedDir): Repository {
  const common = readOptional(gitDir, 'commondir', MAX_REF_FILE_BYTES)?.split('\n')[0]?.trim();
  if (!common) return { gitDir, commonDir: gitDir };
  const commonPath = path.resolve(gitDir.dir, common);
  return { gitDir, commonDir: ConfinedDir.of(commonPath, `git directory ${commonPath}`) };
}

function resolveRef(repo: Repository, name: string, depth: number): string | undefined {
  if (depth > MAX_SYMREF_DEPTH || !validRefName(name)) return undefined;
  const loose = readOptional(repo.gitDir, name, MAX_REF_FILE_BYTES) ?? (name === 'HEAD' ? undefined : readOptional(repo.commonDir, name, MAX_REF_FILE_BYTES));
  if (loose !== undefined) {
    const value = loose.split('\n')[0]!.trim();
    if (value.startsWith('ref: ')) return resolveRef(repo, value.slice('ref: '.length).trim(), depth + 1);
    return OBJECT_NAME.test(value) ? value : undefined;
  }
  return packedRef(repo, name);
}

/** `<object> <ref>` lines of packed-refs (`#` headers and `^` peeled lines skipped). */
function packedRef(repo: Repository, name: string): string | undefined {
  const packed = readOptional(repo.commonDir, 'packed-refs', MAX_PACKED_REFS_BYTES);
  for (const line of packed?.split('\n') ?? []) {
    const [oid, ref] = line.trim().split(' ');
    if (ref === name && oid && OBJECT_NAME.test(oid)) return oid;
  }
  return undefined;
}

/** HEAD, or refs/… without empty, `.` or `..` parts: never a path that leaves the git directory. */
function validRefName(name: string): boolean {
  if (name === 'HEAD') return true;
  const parts = name.split('/');
  return parts[0] === 'refs' && parts.length > 1 && parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.startsWith('.') && !/[\s\\:?*[~^\x00-\x1f]/.test(p));
}

/** A file of the git directory, or undefined when it does not exist. */
function readOptional(dir: ConfinedDir, rel: string, maxBytes: number): string | undefined {
  try {
    return dir.readFile(path.join(dir.dir, rel), maxBytes).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
