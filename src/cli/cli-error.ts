// A user-facing CLI failure: one line on stderr and a chosen exit code (no stack trace).
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** For commands whose feature has not landed yet: say so plainly instead of pretending. */
export function notAvailable(command: string, exitCode = 1): CliError {
  return new CliError(`"aegis ${command}" is not available yet in this build of aegis`, exitCode);
}
