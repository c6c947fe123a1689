// The errors the SDK throws. Every daemon refusal is an AegisApiError carrying the API's reason code
// (AEGIS_NOT_FOUND, AEGIS_INVALID, AEGIS_CONFLICT…, see docs/errors.md), its HTTP status and, for an invalid
// spec, the issues by field; an unreachable daemon is an AegisNotRunningError. Aborts reject with the
// signal's reason (an AbortError unless the caller gave another).

/** One problem in a request body, by field path (`spec.expose`). */
export interface AegisIssue {
  location?: string;
  path: string;
  message: string;
}

/** The daemon answered with an error: `message` is its one-line `error`, `code` its reason code. */
export class AegisApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: AegisIssue[] = [],
  ) {
    super(message);
    this.name = 'AegisApiError';
  }
}

/** No daemon listens on the socket. */
export class AegisNotRunningError extends Error {
  constructor(readonly socket: string) {
    super(`aegisd is not running (no daemon at ${socket}); start it with: aegis up`);
    this.name = 'AegisNotRunningError';
  }
}

/** The daemon went away in the middle of a request (it was stopped, or crashed): the outcome is unknown. */
export class AegisConnectionLostError extends Error {
  constructor(method: string, path: string) {
    super(`the connection to aegisd was lost during ${method} ${path.split('?')[0]} (the daemon stopped or crashed; check with: aegis status)`);
    this.name = 'AegisConnectionLostError';
  }
}

/** A reset socket or a response cut short, as Node's http client reports them. */
export function isLostConnection(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || e?.message === 'aborted' || e?.message === 'socket hang up';
}

/** The API's `{error, reason, issues}` body (or whatever text came instead) as an AegisApiError. */
export function apiErrorOf(status: number, text: string): AegisApiError {
  let body: { error?: unknown; reason?: unknown; issues?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed as typeof body;
  } catch {
    // Not JSON (a proxy, a crash): the text itself is the message.
  }
  const message = typeof body.error === 'string' ? body.error : text.trim() || `daemon answered HTTP ${status}`;
  return new AegisApiError(status, typeof body.reason === 'string' ? body.reason : `HTTP_${status}`, message, Array.isArray(body.issues) ? (body.issues as AegisIssue[]) : []);
}
