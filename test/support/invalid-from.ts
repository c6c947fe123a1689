// Runs fn expecting an AEGIS_INVALID error and returns it, so tests can assert on its message and issues.
import { AegisError, isAegisError } from '../../src/errors/codes.js';

export function invalidFrom(fn: () => unknown): AegisError {
  try {
    fn();
  } catch (e) {
    if (isAegisError(e) && e.code === 'AEGIS_INVALID') return e;
    throw e;
  }
  throw new Error('expected AEGIS_INVALID, nothing was thrown');
}
