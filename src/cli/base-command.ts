// Base class of every aegis command: renders errors as one `error: …` line with the right exit code.
import { Command, UsageError } from 'clipanion';
import { CliError } from './cli-error.js';
import type { AegisContext } from './context.js';
import { sdkErrorText } from './output/sdk-error-text.js';

export abstract class AegisCommand extends Command<AegisContext> {
  override async catch(error: unknown): Promise<void> {
    const { stderr } = this.context;
    if (error instanceof UsageError) throw error; // clipanion prints usage errors with the command's synopsis
    if (error instanceof CliError) {
      stderr.write(`error: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    const text = sdkErrorText(error);
    if (text !== undefined) {
      stderr.write(text);
      process.exitCode = 1;
      return;
    }
    throw error; // a bug: let clipanion print it in full
  }

  protected out(text: string): void {
    this.context.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
