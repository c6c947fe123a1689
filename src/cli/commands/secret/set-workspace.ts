// `aegis secret set-workspace`: set a workspace-wide secret.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class SecretSetWorkspaceCommand extends AegisCommand {
  static override paths = [['secret', 'set-workspace']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'set a workspace-wide secret',
    examples: [['Set a workspace secret', '$0 secret set-workspace GLOBAL_TOKEN abc123']],
  });

  key = Option.String({ name: 'KEY' });
  value = Option.String({ name: 'VALUE' });

  async execute(): Promise<number> {
    throw notAvailable('secret set-workspace');
  }
}
