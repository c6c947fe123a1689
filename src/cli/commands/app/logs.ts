// `aegis app logs`: stream logs of an app's running instance (what `aegis logs APP` does for an app name).
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { printLogs, tailOption } from '../instance/logs.js';

export class AppLogsCommand extends AegisCommand {
  static override paths = [['app', 'logs']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: "stream logs of an app's running instance",
    details: `
      Same as \`aegis logs APP_NAME\`: resolves the app to its instance and prints its logs; see \`aegis logs --help\` for the flags.
    `,
    examples: [['Follow logs', '$0 app logs myapp --follow']],
  });

  follow = Option.Boolean('-f,--follow', false, { description: 'Stream live logs' });
  tail = tailOption();
  since = Option.String('--since', { description: 'Only lines since a duration ago (5m) or a time (ISO 8601)' });
  source = Option.String('--source', { description: 'Only these sources: boot, server, exec, system (comma-separated)' });
  json = Option.Boolean('--json', false, { description: 'Print raw JSON entries' });
  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    return printLogs(this.context, { name: this.app, kind: 'app' }, this);
  }
}
