// `aegis app delete`: delete an app, its releases and instances.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class AppDeleteCommand extends AegisCommand {
  static override paths = [['app', 'delete']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'delete an app, its releases and instances',
    examples: [['Delete an app', '$0 app delete myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('app delete');
  }
}
