// `aegis app serve`: start serving an app from its latest release.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class AppServeCommand extends AegisCommand {
  static override paths = [['app', 'serve']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'start serving an app from its latest release',
    examples: [['Serve an app', '$0 app serve myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('app serve');
  }
}
