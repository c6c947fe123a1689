// `aegis kit install`: install a kit from a YAML manifest.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { AegisApiError } from '../../../sdk/errors.js';
import type { KitResource } from '../../client/kit-manifest.js';

export class KitInstallCommand extends AegisCommand {
  static override paths = [['kit', 'install']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'install a kit from a YAML manifest',
    details: `
      The manifest is the seed's flat form (top-level \`name\`, \`version\`, \`image\`, optional \`description\` and \`config\`) or a full \`apiVersion: aegis.dev/v1, kind: Kit\` manifest. \`-\` reads it from stdin.

      Installing the same kit again changes nothing. A different kit under an installed name is refused: uninstall the old one first.
    `,
    examples: [
      ['Install a kit', '$0 kit install famiglia.yaml'],
      ['Install from stdin', 'cat famiglia.yaml | $0 kit install -'],
    ],
  });

  manifest = Option.String({ name: 'MANIFEST.yaml' });

  async execute(): Promise<number> {
    const { parseKitManifest, readManifestText } = await import('../../client/kit-manifest.js');
    const text = await readManifestText(this.manifest, this.context.stdin);
    const file = parseKitManifest(text, this.manifest);
    let kit: KitResource;
    try {
      kit = await this.context.client.post<KitResource>('/v1/kits', file.value);
    } catch (err) {
      throw err instanceof AegisApiError ? file.locate(err) : err;
    }
    this.out(`Kit ${kit.metadata.name} v${kit.spec.version} installed`);
    return 0;
  }
}
