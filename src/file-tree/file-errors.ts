// The errors of a file operation, as the worker reports them: a protocol error code and a message that
// does not repeat the path (the daemon names the path and the machine).
import type { ErrorCode } from '../protocol/messages.js';

export class FileOpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status the harness answers with for each code a file operation reports. */
export const FILE_ERROR_STATUS: Partial<Record<ErrorCode, number>> = { NO_SUCH_FILE: 404, BAD_REQUEST: 400, PERMISSION_DENIED: 403, NO_SPACE: 507, INTERNAL: 500 };

/** A system error of a file operation as the one line the user sees. */
export function fileErrorOf(err: unknown): FileOpError {
  if (err instanceof FileOpError) return err;
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return new FileOpError('NO_SUCH_FILE', 'no such file or directory');
    case 'ENOTDIR':
      return new FileOpError('BAD_REQUEST', 'a component of the path is not a directory');
    case 'EISDIR':
      return new FileOpError('BAD_REQUEST', 'is a directory');
    case 'EACCES':
    case 'EPERM':
      return new FileOpError('PERMISSION_DENIED', 'permission denied');
    case 'EROFS':
      return new FileOpError('PERMISSION_DENIED', 'read-only file system');
    case 'ENOSPC':
    case 'EDQUOT':
      return new FileOpError('NO_SPACE', 'no space left on the device');
    case 'ELOOP':
      return new FileOpError('BAD_REQUEST', 'too many levels of symbolic links');
    case 'ENAMETOOLONG':
      return new FileOpError('BAD_REQUEST', 'file name too long');
    case 'ENOTEMPTY':
      return new FileOpError('BAD_REQUEST', 'directory not empty');
    default:
      return new FileOpError('INTERNAL', e.code ? `${e.syscall ?? 'file operation'} failed: ${e.code}` : String(e.message ?? e));
  }
}
