// `aegis kit info`: show an installed kit.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import type { KitResource } from '../../client/kit-manifest.js';

// Labels padded so values start in one column, as in the seed reference.
const LABEL_WIDTH = 13;

export class KitInfoCommand extends AegisCommand {
  static override paths = [['kit', 'info']];
  static override usage = Command.Usage({
    category: 'Kit commands',
    description: 'show an installed kit',
    details: 'Shows the name, version, description (when set), image and installation time (UTC) of a kit, given by name or id.',
    examples: [['Show a kit', '$0 kit info famiglia']],
  });

  kit = Option.String({ name: 'KIT_NAME' });

  async execute(): Promise<number> {
    const kit = await this.context.client.get<KitResource>(`/v1/kits/${encodeURIComponent(this.kit)}`);
    const rows: [string, string | undefined][] = [
      ['Name', kit.metadata.name],
      ['Version', kit.spec.version],
      ['Description', kit.spec.description],
      ['Image', kit.spec.image],
      ['Installed', isoSeconds(kit.metadata.createdAt)],
    ];
    for (const [label, value] of rows) if (value !== undefined && value !== '') this.out(`${`${label}:`.padEnd(LABEL_WIDTH)}${value}`);
    return 0;
  }
}

/** `2026-02-18T10:30:00.123Z` → `2026-02-18T10:30:00Z`. */
const isoSeconds = (iso: string): string => new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
