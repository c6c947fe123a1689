// `aegis kit info`: show an installed kit.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class KitInfoCommand extends AegisCommand {
  static override paths = [['kit', 'info']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'show an installed kit',
    examples: [['Show a kit', '$0 kit info famiglia']],
  });

  kit = Option.String({ name: 'KIT_NAME' });

  async execute(): Promise<number> {
    throw notAvailable('kit info');
  }
}
