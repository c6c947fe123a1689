// aegisd's own log (`data/aegisd.log`): the logger's lines, rotated at `limits.daemonLog` so it cannot fill the disk.
import { RotatingLog } from './rotating-log.js';

/** Old files kept besides the current one (`aegisd.log.1` newest … `.3` oldest). */
export const DAEMON_LOG_KEEP_FILES = 3;

/**
 * A destination for the daemon's logger (pino writes one whole line per call), appending synchronously. A line
 * that cannot be written (the disk is full) must not fail the request that logged it: it is counted, and the
 * first line written again is preceded by one that says how many were lost and why.
 */
export function daemonLogStream(file: string, maxBytes: number): { write(line: string): void } {
  const log = new RotatingLog(file, { maxBytes, keepFiles: DAEMON_LOG_KEEP_FILES });
  let dropped = 0;
  let why = '';
  return {
    write: (line) => {
      try {
        if (dropped > 0) {
          const note = { level: 40, time: Date.now(), pid: process.pid, msg: `aegis: ${dropped} line(s) of this log could not be written (${why})` };
          log.append([Buffer.from(JSON.stringify(note) + '\n')]);
          dropped = 0;
        }
        log.append([Buffer.from(line)]);
      } catch (err) {
        dropped++;
        why = err instanceof Error ? err.message : String(err);
        // Reopened on the next line: the failed file descriptor may be in any state.
        log.close();
      }
    },
  };
}
