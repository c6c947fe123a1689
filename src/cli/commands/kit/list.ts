// `aegis kit list`: list installed kits.
import { Command } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class KitListCommand extends AegisCommand {
  static override paths = [['kit', 'list']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'list installed kits',
    examples: [['List kits', '$0 kit list']],
  });

  async execute(): Promise<number> {
    throw notAvailable('kit list');
  }
}
