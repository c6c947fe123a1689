// `aegis instance list`: every instance with its state, app and open connections.
import { Command } from 'clipanion';
import type { InstanceSpec, InstanceStatus } from '../../../resources/instance.js';
import { AegisCommand } from '../../base-command.js';
import type { ResourceView } from '../../output/resource-view.js';
import { renderTable } from '../../output/table.js';

type Instance = ResourceView<InstanceSpec, InstanceStatus>;

export class InstanceListCommand extends AegisCommand {
  static override paths = [['instance', 'list']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'list all active instances',
    examples: [['List instances', '$0 instance list']],
  });

  async execute(): Promise<number> {
    const { client } = this.context;
    const [{ items }, apps] = await Promise.all([client.get<{ items: Instance[] }>('/v1/instances'), client.get<{ items: ResourceView[] }>('/v1/apps')]);
    if (items.length === 0) {
      this.out('No instances. Serve something with: aegis app serve APP (or aegis run --expose PORT -- CMD)');
      return 0;
    }
    // The seed shows the app's id in the APP column.
    const appId = new Map(apps.items.map((a) => [a.metadata.name, a.metadata.uid]));
    this.context.stdout.write(
      renderTable<Instance>(
        [
          { header: 'ID', width: 30, value: (i) => i.metadata.uid },
          { header: 'STATE', width: 10, value: (i) => i.status.state ?? 'starting' },
          { header: 'APP', width: 20, value: (i) => (i.spec.app ? (appId.get(i.spec.app) ?? i.spec.app) : '-') },
          { header: 'CONNS', width: 0, value: (i) => String(i.status.connections ?? 0) },
        ],
        items,
      ),
    );
    return 0;
  }
}
