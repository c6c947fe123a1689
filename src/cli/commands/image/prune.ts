// `aegis image prune`: remove cached images nothing uses.
import { Command } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { formatBytes } from '../../output/bytes.js';

export class ImagePruneCommand extends AegisCommand {
  static override paths = [['image', 'prune']];
  static override usage = Command.Usage({
    category: 'Image commands',
    description: 'remove images no app, release, kit or running machine uses',
    examples: [['Free disk space', '$0 image prune']],
  });

  async execute(): Promise<number> {
    const r = await this.context.client.post<{ removed: string[]; freedBytes: number }>('/v1/images/prune');
    for (const ref of r.removed) this.out(`Removed ${ref}`);
    this.out(`${r.removed.length} image${r.removed.length === 1 ? '' : 's'} removed, ${formatBytes(r.freedBytes)} freed`);
    return 0;
  }
}
