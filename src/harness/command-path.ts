// Finds the executable for argv[0] the way a shell does, so "not found" (127) and "not executable" (126) are exact.
import fs from 'node:fs';
import path from 'node:path';

export type CommandLookup =
  | { ok: true; file: string }
  | { ok: false; code: 126 | 127; reason: string };

function probe(file: string): 'exec' | 'noexec' | 'dir' | 'missing' {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return 'missing';
  }
  if (stat.isDirectory()) return 'dir';
  // Not access(X_OK): it answers for the real uid, which in a sandbox is not the harness's (see
  // launch-script.ts) and may not even search the directory. The kernel has the last word at spawn
  // (EACCES: 126 as well).
  return stat.isFile() && (stat.mode & 0o111) !== 0 ? 'exec' : 'noexec';
}

/**
 * Resolves `command` against `pathVar` (the child's PATH, not the harness's). A name with a slash is
 * taken as a path relative to `cwd`. Like bash, a non-executable match is remembered and reported as
 * 126 only when no executable one follows on the PATH.
 */
export function resolveCommand(command: string, pathVar: string, cwd: string): CommandLookup {
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    switch (probe(file)) {
      case 'exec':
        return { ok: true, file };
      case 'dir':
        return { ok: false, code: 126, reason: 'is a directory' };
      case 'noexec':
        return { ok: false, code: 126, reason: 'permission denied' };
      default:
        return { ok: false, code: 127, reason: 'no such file or directory' };
    }
  }
  let denied = false;
  for (const dir of pathVar.split(':')) {
    const file = path.resolve(cwd, dir === '' ? '.' : dir, command);
    const kind = probe(file);
    if (kind === 'exec') return { ok: true, file };
    if (kind === 'noexec') denied = true;
  }
  return denied ? { ok: false, code: 126, reason: 'permission denied' } : { ok: false, code: 127, reason: 'command not found' };
}
