// `aegis app publish`: publish a new release for an app.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class AppPublishCommand extends AegisCommand {
  static override paths = [['app', 'publish']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'publish a new release for an app',
    examples: [['Publish release v1', '$0 app publish myapp --label v1']],
  });

  app = Option.String({ name: 'APP_NAME' });
  label = Option.String('--label', { description: 'Human-readable release label (e.g. v1)' });

  async execute(): Promise<number> {
    throw notAvailable('app publish');
  }
}
