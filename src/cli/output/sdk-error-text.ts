// What the CLI prints for an error of the SDK's (the daemon's refusal with its issues, no daemon, a lost
// connection): shared by every command's catch (base-command.ts) and the quick paths that run without one.
import { AegisApiError, AegisConnectionLostError, AegisNotRunningError } from '../../sdk/errors.js';

/** The `error: …` line (and an indented line per issue), or undefined for an error that is not the SDK's. */
export function sdkErrorText(error: unknown): string | undefined {
  if (error instanceof AegisApiError) {
    return `error: ${error.message}\n` + error.issues.map((i) => `  ${i.location ? `${i.location}: ` : ''}${i.path ? `${i.path}: ` : ''}${i.message}\n`).join('');
  }
  if (error instanceof AegisNotRunningError || error instanceof AegisConnectionLostError) return `error: ${error.message}\n`;
  return undefined;
}
