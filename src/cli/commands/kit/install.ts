// `aegis kit install`: install a kit from a YAML manifest.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class KitInstallCommand extends AegisCommand {
  static override paths = [['kit', 'install']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'install a kit from a YAML manifest',
    examples: [['Install a kit', '$0 kit install famiglia.yaml']],
  });

  manifest = Option.String({ name: 'MANIFEST.yaml' });

  async execute(): Promise<number> {
    throw notAvailable('kit install');
  }
}
