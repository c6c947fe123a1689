// `aegis kit uninstall`: remove an installed kit.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class KitUninstallCommand extends AegisCommand {
  static override paths = [['kit', 'uninstall']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'remove an installed kit',
    examples: [['Remove a kit', '$0 kit uninstall famiglia']],
  });

  kit = Option.String({ name: 'KIT_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('kit uninstall');
  }
}
