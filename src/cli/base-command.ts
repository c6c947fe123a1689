// Base class of every aegis command: renders errors as one `error: …` line with the right exit code.
import { Command, UsageError } from 'clipanion';
import { CliError } from './cli-error.js';
import { AegisApiError, AegisConnectionLostError, AegisNotRunningError } from '../sdk/errors.js';
import type { AegisContext } from './context.js';

export abstract class AegisCommand extends Command<AegisContext> {
  override async catch(error: unknown): Promise<void> {
    const { stderr } = this.context;
    if (error instanceof UsageError) throw error; // clipanion prints usage errors with the command's synopsis
    if (error instanceof CliError) {
      stderr.write(`error: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof AegisApiError) {
      stderr.write(`error: ${error.message}\n`);
      for (const i of error.issues) stderr.write(`  ${i.location ? `${i.location}: ` : ''}${i.path ? `${i.path}: ` : ''}${i.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (error instanceof AegisNotRunningError || error instanceof AegisConnectionLostError) {
      stderr.write(`error: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error; // a bug: let clipanion print it in full
  }

  protected out(text: string): void {
    this.context.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
