// `aegis instance list`: list all active instances.
import { Command } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class InstanceListCommand extends AegisCommand {
  static override paths = [['instance', 'list']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'list all active instances',
    examples: [['List instances', '$0 instance list']],
  });

  async execute(): Promise<number> {
    throw notAvailable('instance list');
  }
}
