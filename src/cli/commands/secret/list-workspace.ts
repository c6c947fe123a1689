// `aegis secret list-workspace`: list workspace-wide secret names.
import { Command } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class SecretListWorkspaceCommand extends AegisCommand {
  static override paths = [['secret', 'list-workspace']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'list workspace-wide secret names',
    examples: [['List workspace secrets', '$0 secret list-workspace']],
  });

  async execute(): Promise<number> {
    throw notAvailable('secret list-workspace');
  }
}
