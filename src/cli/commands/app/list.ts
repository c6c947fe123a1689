// `aegis app list`: list all apps.
import { Command } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class AppListCommand extends AegisCommand {
  static override paths = [['app', 'list']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'list all apps',
    examples: [['List apps', '$0 app list']],
  });

  async execute(): Promise<number> {
    throw notAvailable('app list');
  }
}
