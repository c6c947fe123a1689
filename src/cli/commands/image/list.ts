// `aegis image list`: the images in the local cache.
import { Command } from 'clipanion';
import type { ImageRecord } from '../../../images/cache/ref-index.js';
import { AegisCommand } from '../../base-command.js';
import { formatBytes } from '../../output/bytes.js';
import { renderTable } from '../../output/table.js';

export class ImageListCommand extends AegisCommand {
  static override paths = [['image', 'list']];
  static override usage = Command.Usage({
    category: 'Image commands',
    description: 'list cached images',
    examples: [['List images', '$0 image list']],
  });

  async execute(): Promise<number> {
    const { items } = await this.context.client.get<{ items: ImageRecord[] }>('/v1/images');
    if (items.length === 0) {
      this.out('No images. Pull one with: aegis image pull REF');
      return 0;
    }
    const refWidth = Math.max(5, ...items.map((i) => i.ref.length));
    this.context.stdout.write(
      renderTable<ImageRecord>(
        [
          { header: 'IMAGE', width: refWidth, value: (i) => i.ref },
          { header: 'DIGEST', width: 19, value: (i) => i.digest.slice(0, 19) },
          { header: 'SIZE', width: 9, value: (i) => formatBytes(i.size) },
          { header: 'PULLED', width: 20, value: (i) => i.pulledAt.slice(0, 19).replace('T', ' ') },
        ],
        items,
      ),
    );
    return 0;
  }
}
