// `aegis image rm`: forget a cached image and free what only it used.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { imageRefFromCli } from '../../client/image-pull.js';
import { formatBytes } from '../../output/bytes.js';

export class ImageRmCommand extends AegisCommand {
  static override paths = [['image', 'rm']];
  static override usage = Command.Usage({
    category: 'Image commands',
    description: 'remove an image from the cache',
    details: 'Layers shared with other cached images, or used by a running machine, stay until nothing uses them.',
    examples: [['Remove an image', '$0 image rm alpine:3.21']],
  });

  ref = Option.String();

  async execute(): Promise<number> {
    const r = await this.context.client.delete<{ ref: string; freedBytes: number }>(`/v1/images?ref=${encodeURIComponent(imageRefFromCli(this.ref))}`);
    this.out(`Removed ${r.ref} (${formatBytes(r.freedBytes)} freed)`);
    return 0;
  }
}
