// User namespaces with given id maps, made for a machine and held by the daemon as fds: one that the
// guest's processes join (guest root = an unprivileged host uid), one that only shapes idmapped mounts.
// A namespace needs a process to be born in: a short-lived `unshare --user` child, whose maps the daemon
// writes as root (any range may be mapped that way, no /etc/subuid entry needed), then lets go of.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { which } from '../../util/which.js';

/** Lines of /proc/PID/uid_map and gid_map: "inside outside count". */
export interface IdMaps {
  uid: string;
  gid: string;
}

const BORN_TIMEOUT_MS = 5_000;

/** A new user namespace with `maps`, as an fd (close-on-exec, as every fd Node opens); the process it was born in is gone or going. */
export async function createUserNamespace(maps: IdMaps): Promise<number> {
  const unshare = which('unshare');
  if (!unshare) throw new Error('unshare is not installed (apt-get install util-linux)');
  // The child says when it is inside the new namespace, then waits for its stdin to close.
  const child = spawn(unshare, ['--user', '--', '/bin/sh', '-c', 'echo; read _'], { stdio: ['pipe', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`unshare --user did not start within ${BORN_TIMEOUT_MS} ms`)), BORN_TIMEOUT_MS);
      const settle = (err?: Error) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      child.stdout!.once('data', () => settle());
      child.once('error', settle);
      child.once('exit', (code) => settle(new Error(`unshare --user exited (${code}) before its namespace was mapped: are user namespaces disabled?`)));
    });
    // Each map must be written whole, in one write.
    fs.writeFileSync(`/proc/${child.pid}/uid_map`, maps.uid);
    fs.writeFileSync(`/proc/${child.pid}/gid_map`, maps.gid);
    return fs.openSync(`/proc/${child.pid}/ns/user`, fs.constants.O_RDONLY);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    // Its `read` sees end of file and the shell exits: the namespace lives on in our fd.
    child.stdin!.end();
    child.stdout!.destroy();
  }
}
