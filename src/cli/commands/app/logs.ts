// `aegis app logs`: stream logs of an app's running instance.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class AppLogsCommand extends AegisCommand {
  static override paths = [['app', 'logs']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: "stream logs of an app's running instance",
    examples: [['Follow logs', '$0 app logs myapp --follow']],
  });

  follow = Option.Boolean('-f,--follow', false, { description: 'Stream live logs' });
  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('app logs');
  }
}
