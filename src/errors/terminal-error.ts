// TerminalError: a reconcile failure that retrying cannot fix, so the controller reports it and stops requeueing.

export interface TerminalErrorOptions {
  /** One-word CamelCase condition reason, e.g. `MissingImage` or `InvalidSpec` (STYLE item 22). */
  reason?: string;
  cause?: unknown;
}

/**
 * Thrown from `reconcile` for an invalid spec or a missing input that only a user edit can repair.
 * The controller does not back off and retry it (that would spin forever); the spec change that fixes
 * it arrives as a store write, which enqueues the key again.
 */
export class TerminalError extends Error {
  readonly reason: string;

  constructor(message: string, options: TerminalErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TerminalError';
    this.reason = options.reason ?? 'Failed';
  }
}
