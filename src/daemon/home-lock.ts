// One daemon per $AEGIS_HOME: an exclusive flock(2) on data/aegisd.lock, taken before anything else and held
// for the daemon's life. The kernel releases it when the process dies, however it dies, so a crashed daemon
// never blocks the next one (a pid file cannot promise that, and is written only once start-up is done).
import fs from 'node:fs';
import { tryLockExclusive } from '../util/libc.js';
import { readPid } from './pid-file.js';

export type HomeLock = { held: true } | { held: false; ownerPid: number | undefined };

/** Takes the lock and records our pid in the file; the fd stays open (close-on-exec, so machines never inherit it). */
export function lockHome(lockFile: string): HomeLock {
  const fd = fs.openSync(lockFile, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  if (!tryLockExclusive(fd, lockFile)) {
    fs.closeSync(fd);
    return { held: false, ownerPid: readPid(lockFile) };
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  return { held: true };
}
