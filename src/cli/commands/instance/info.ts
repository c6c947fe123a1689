// `aegis instance info`: show an instance.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class InstanceInfoCommand extends AegisCommand {
  static override paths = [['instance', 'info']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'show an instance',
    examples: [['Show an instance', '$0 instance info inst-1739893456789012345']],
  });

  instance = Option.String({ name: 'INSTANCE_ID' });

  async execute(): Promise<number> {
    throw notAvailable('instance info');
  }
}
