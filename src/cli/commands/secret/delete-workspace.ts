// `aegis secret delete-workspace`: delete a workspace-wide secret (not in the seed; its counterpart of `secret delete`).
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';

export class SecretDeleteWorkspaceCommand extends AegisCommand {
  static override paths = [['secret', 'delete-workspace']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'delete a workspace-wide secret',
    examples: [['Delete a workspace secret', '$0 secret delete-workspace GLOBAL_TOKEN']],
  });

  key = Option.String({ name: 'KEY' });

  async execute(): Promise<number> {
    await this.context.aegis.secrets.delete(undefined, this.key);
    this.out(`Workspace secret ${this.key} deleted`);
    return 0;
  }
}
