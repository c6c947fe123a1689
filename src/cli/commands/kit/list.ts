// `aegis kit list`: list installed kits.
import { Command } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import type { KitResource } from '../../client/kit-manifest.js';
import { renderTable } from '../../output/table.js';

export class KitListCommand extends AegisCommand {
  static override paths = [['kit', 'list']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'list installed kits',
    details: 'One row per installed kit, sorted by name: its NAME, VERSION and IMAGE.',
    examples: [['List kits', '$0 kit list']],
  });

  async execute(): Promise<number> {
    const { items } = await this.context.client.get<{ items: KitResource[] }>('/v1/kits');
    if (items.length === 0) {
      this.out('No kits installed. Install one with: aegis kit install MANIFEST.yaml');
      return 0;
    }
    this.context.stdout.write(
      renderTable<KitResource>(
        [
          { header: 'NAME', width: 20, value: (k) => k.metadata.name },
          { header: 'VERSION', width: 15, value: (k) => k.spec.version },
          { header: 'IMAGE', width: 0, value: (k) => k.spec.image },
        ],
        items,
      ),
    );
    return 0;
  }
}
