// Attacks that busybox cannot perform (unshare with a cgroup namespace, raw syscalls) as small C programs
// under test/security/programs/, compiled static with the system gcc so they run on any guest rootfs.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../support/temp-home.js';

const SOURCES = path.join(ROOT, 'test', 'security', 'programs');

/** Copies the named programs, compiled, into `dir` (a guest's workspace, say); returns their paths there. */
export function installAttackPrograms(dir: string, names: string[]): string[] {
  return names.map((name) => {
    const out = path.join(dir, name);
    execFileSync('gcc', ['-static', '-O1', '-o', out, path.join(SOURCES, `${name}.c`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    return out;
  });
}
