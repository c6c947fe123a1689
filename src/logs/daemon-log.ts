// aegisd's own log (`data/aegisd.log`): the logger's lines, rotated at `limits.daemonLog` so it cannot fill the disk.
import { RotatingLog } from './rotating-log.js';

/** Old files kept besides the current one (`aegisd.log.1` newest … `.3` oldest). */
export const DAEMON_LOG_KEEP_FILES = 3;

/** A destination for the daemon's logger (pino writes one whole line per call), appending synchronously. */
export function daemonLogStream(file: string, maxBytes: number): { write(line: string): void } {
  const log = new RotatingLog(file, { maxBytes, keepFiles: DAEMON_LOG_KEEP_FILES });
  return { write: (line) => log.append([Buffer.from(line)]) };
}
