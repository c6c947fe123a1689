// `aegis kit uninstall`: remove an installed kit.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';

export class KitUninstallCommand extends AegisCommand {
  static override paths = [['kit', 'uninstall']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'remove an installed kit',
    details: 'A kit that apps still name is not removed unless `--force` is given; those apps are then left naming a kit that is not installed.',
    examples: [
      ['Remove a kit', '$0 kit uninstall famiglia'],
      ['Remove a kit apps still use', '$0 kit uninstall --force famiglia'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'Uninstall even when apps use the kit' });
  kit = Option.String({ name: 'KIT_NAME' });

  async execute(): Promise<number> {
    const query = this.force ? '?force=true' : '';
    const r = await this.context.client.delete<{ name: string; result: 'deleted' | 'terminating' }>(`/v1/kits/${encodeURIComponent(this.kit)}${query}`);
    this.out(r.result === 'deleted' ? `Kit "${r.name}" uninstalled` : `Kit "${r.name}" is being uninstalled`);
    return 0;
  }
}
