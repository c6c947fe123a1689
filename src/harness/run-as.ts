// Resolves an exec's `user` to the uid, gid and home it runs with, from the guest's own /etc/passwd and
// /etc/group (the image's, as the machine sees them now). Supplementary groups are not set: Node's spawn
// clears them whenever it changes uid or gid, so the command has only its primary group.
import fs from 'node:fs';
import path from 'node:path';
import { isNumericId, MAX_ID, parseUserSpec, USER_SPEC_RULE } from '../protocol/user-spec.js';

export interface RunAs {
  uid: number;
  gid: number;
  /** From the passwd entry; else `/root` for root and `/` for others (a bare uid), as docker does. */
  home: string;
}

/** A guest file the workload may have replaced with something huge, or a FIFO that would block PID 1. */
const MAX_DB_BYTES = 4 * 1024 * 1024;

/** Entries of a colon-separated database (`/etc/passwd`, `/etc/group`); none when it is missing or unreadable. */
function readDb(file: string): string[][] {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return [];
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_DB_BYTES) return [];
    const buf = Buffer.alloc(st.size);
    const n = fs.readSync(fd, buf, 0, st.size, 0);
    return buf
      .subarray(0, n)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } finally {
    fs.closeSync(fd);
  }
}

/** The uid, gid and home for `spec`, or why it cannot be used (to follow `user "SPEC": `). `etc` is the guest's /etc. */
export function resolveRunAs(spec: string, etc = '/etc'): RunAs | { error: string } {
  const parsed = parseUserSpec(spec);
  if (!parsed) return { error: `not ${USER_SPEC_RULE}` };
  const passwd = readDb(path.join(etc, 'passwd'));
  // name:password:uid:gid:gecos:home:shell
  const entry = isNumericId(parsed.user) ? passwd.find((e) => e[2] === String(Number(parsed.user))) : passwd.find((e) => e[0] === parsed.user);
  if (!isNumericId(parsed.user) && !entry) return { error: `no such user in /etc/passwd` };
  const uid = isNumericId(parsed.user) ? Number(parsed.user) : idField(entry![2]);
  let gid = entry ? idField(entry[3]) : 0;
  if (parsed.group !== undefined) {
    if (isNumericId(parsed.group)) {
      gid = Number(parsed.group);
    } else {
      const group = readDb(path.join(etc, 'group')).find((g) => g[0] === parsed.group);
      if (!group) return { error: `no group ${JSON.stringify(parsed.group)} in /etc/group` };
      gid = idField(group[2]);
    }
  }
  if (!validId(uid) || !validId(gid)) return { error: 'its entry in /etc/passwd or /etc/group has an invalid id' };
  return { uid, gid, home: entry?.[5] || (uid === 0 ? '/root' : '/') };
}

/** A numeric field of a database entry; NaN (refused) when empty or not a number, never 0 by accident. */
const idField = (field: string | undefined): number => (field !== undefined && /^\d{1,10}$/.test(field) ? Number(field) : NaN);
const validId = (n: number): boolean => Number.isSafeInteger(n) && n >= 0 && n <= MAX_ID;
