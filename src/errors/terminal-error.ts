// TerminalError: a failure that retrying cannot fix (an invalid spec or plan), so whoever would retry it reports
// it and stops until the input changes: the reconcile loop (controller.ts), the instance runtime (a boot).

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
