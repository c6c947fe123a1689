// Turns an ExecExit into the single exit code a shell (and `aegis exec`) reports.
import os from 'node:os';
import type { ExecExit } from './messages.js';

/** Exit code the host reports for an exec whose connection to the machine was lost. */
export const LOST_EXIT_CODE = -1;

/**
 * The code as a shell reports it: the process's own code, 128+n for a signal, and
 * LOST_EXIT_CODE when there is neither (the machine or its connection went away).
 */
export function exitCodeOf(exit: ExecExit): number {
  if (exit.code !== null) return exit.code;
  if (exit.signal !== null) {
    const n = (os.constants.signals as Record<string, number | undefined>)[exit.signal];
    if (n !== undefined) return 128 + n;
  }
  return LOST_EXIT_CODE;
}
