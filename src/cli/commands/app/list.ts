// `aegis app list`: every app as a table (NAME, IMAGE, ID), as the seed prints it.
import { Command } from 'clipanion';
import type { AppSpec } from '../../../resources/app.js';
import { AegisCommand } from '../../base-command.js';
import { renderTable } from '../../output/table.js';
import type { ResourceView } from '../../output/resource-view.js';

export class AppListCommand extends AegisCommand {
  static override paths = [['app', 'list']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'list all apps',
    examples: [['List apps', '$0 app list']],
  });

  async execute(): Promise<number> {
    const { items } = await { items: await this.context.aegis.apps.list() };
    if (items.length === 0) {
      this.out('No apps. Create one with: aegis app create --name NAME --image IMAGE -- CMD');
      return 0;
    }
    this.context.stdout.write(
      renderTable<ResourceView<AppSpec>>(
        [
          { header: 'NAME', width: 20, value: (a) => a.metadata.name },
          { header: 'IMAGE', width: 30, value: (a) => a.spec.image ?? `(kit ${a.spec.kit})` },
          { header: 'ID', width: 0, value: (a) => a.metadata.uid },
        ],
        items,
      ),
    );
    return 0;
  }
}
