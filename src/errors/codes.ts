// The one registry of error codes Aegis reports: each maps to an HTTP status and a CLI exit meaning.

export const ErrorCodes = {
  AEGIS_INVALID: 400,
  AEGIS_UNAUTHORIZED: 401,
  AEGIS_FORBIDDEN: 403,
  AEGIS_NOT_FOUND: 404,
  AEGIS_CONFLICT: 409,
  AEGIS_TOO_LARGE: 413,
  AEGIS_OVER_CAPACITY: 422,
  AEGIS_NOT_SUPPORTED: 501,
  AEGIS_UPSTREAM: 502,
  AEGIS_UNAVAILABLE: 503,
  AEGIS_NO_SPACE: 507,
  AEGIS_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** One problem in an input document: where it is and what is wrong. */
export interface FieldIssue {
  /** `file:line:column` when the input came from a file, else omitted. */
  location?: string;
  /** Dotted field path inside the document, e.g. `spec.expose.0`. */
  path: string;
  message: string;
}

/**
 * An error meant for the user: `message` is one line that names the cause.
 * Anything thrown that is not an AegisError is a bug and is reported as a generic 500.
 */
export class AegisError extends Error {
  readonly code: ErrorCode;
  readonly issues: FieldIssue[];

  constructor(code: ErrorCode, message: string, issues: FieldIssue[] = []) {
    super(message);
    this.name = 'AegisError';
    this.code = code;
    this.issues = issues;
  }

  get statusCode(): number {
    return ErrorCodes[this.code];
  }
}

export const invalid = (message: string, issues: FieldIssue[] = []) => new AegisError('AEGIS_INVALID', message, issues);
export const notFound = (message: string) => new AegisError('AEGIS_NOT_FOUND', message);
export const conflict = (message: string) => new AegisError('AEGIS_CONFLICT', message);
/** Something is larger than Aegis accepts: a request body, or what a setting under `limits` bounds. */
export const tooLarge = (message: string) => new AegisError('AEGIS_TOO_LARGE', message);
/** A machine this host cannot hold: larger than the host, or past the memory overcommit while others run. */
export const overCapacity = (message: string) => new AegisError('AEGIS_OVER_CAPACITY', message);
export const notSupported = (message: string) => new AegisError('AEGIS_NOT_SUPPORTED', message);
/** A server Aegis talks to (an image registry) failed, refused or could not be reached. */
export const upstream = (message: string) => new AegisError('AEGIS_UPSTREAM', message);
export const unavailable = (message: string) => new AegisError('AEGIS_UNAVAILABLE', message);
/** The disk under $AEGIS_HOME is full: the write was refused whole, reads go on, and it may be retried once space is freed. */
export const noSpace = (message: string) => new AegisError('AEGIS_NO_SPACE', message);

/** ENOSPC from the file system, or SQLite's "database or disk is full". */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'ENOSPC' || code === 'SQLITE_FULL';
}

export const isAegisError = (e: unknown): e is AegisError => e instanceof AegisError;
