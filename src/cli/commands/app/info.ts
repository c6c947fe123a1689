// `aegis app info`: show an app and its releases.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class AppInfoCommand extends AegisCommand {
  static override paths = [['app', 'info']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'show an app and its releases',
    examples: [['Show an app', '$0 app info myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('app info');
  }
}
