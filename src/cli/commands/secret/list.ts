// `aegis secret list`: list secret names of an app.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class SecretListCommand extends AegisCommand {
  static override paths = [['secret', 'list']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'list secret names of an app',
    examples: [['List secrets', '$0 secret list myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('secret list');
  }
}
