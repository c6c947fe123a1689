// `aegis logs`: stream instance logs.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class LogsCommand extends AegisCommand {
  static override paths = [['logs']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'stream instance logs',
    examples: [['Follow logs', '$0 logs myapp --follow']],
  });

  follow = Option.Boolean('-f,--follow', false, { description: 'Stream live logs' });
  target = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('logs');
  }
}
