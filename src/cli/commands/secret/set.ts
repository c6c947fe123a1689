// `aegis secret set`: set an app-scoped secret.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class SecretSetCommand extends AegisCommand {
  static override paths = [['secret', 'set']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'set an app-scoped secret',
    examples: [['Set a secret', '$0 secret set myapp API_KEY sk-test123']],
  });

  app = Option.String({ name: 'APP_NAME' });
  key = Option.String({ name: 'KEY' });
  value = Option.String({ name: 'VALUE' });

  async execute(): Promise<number> {
    throw notAvailable('secret set');
  }
}
