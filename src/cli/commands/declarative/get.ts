// `aegis get KIND [NAME]`: resources as a table (NAME READY REASON AGE), wide, YAML (re-appliable) or JSON.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';
import type { ResourceView } from '../../output/resource-view.js';
import { renderTable } from '../../output/table.js';
import { parseSelector } from '../../options/label-selector.js';

/** The object as a manifest: what `aegis apply` takes back (server-owned fields and status left out). */
export const asManifest = (r: ResourceView) => ({
  apiVersion: 'aegis.dev/v1',
  kind: r.kind,
  metadata: { name: r.metadata.name, ...(Object.keys(r.metadata.labels).length ? { labels: r.metadata.labels } : {}) },
  spec: r.spec,
});

export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export class GetCommand extends AegisCommand {
  static override paths = [['get']];
  static override usage = Command.Usage({
    category: 'Declarative commands',
    description: 'list or show resources of a kind',
    details: `
      KIND is app, release, kit, secret, instance or task (singular or plural). \`-o yaml\` prints manifests that \`aegis apply\` takes back unchanged (secret values print as \`<redacted>\`, so secrets do not round-trip).
    `,
    examples: [
      ['List apps', '$0 get apps'],
      ['One app as YAML', '$0 get app web -o yaml'],
      ['Apps with a label', '$0 get apps -l team=search -o wide'],
    ],
  });

  kind = Option.String({ name: 'KIND' });
  name = Option.String({ required: false, name: 'NAME' });
  output = Option.String('-o,--output', 'table', { description: 'table, wide, yaml or json' });
  selector = Option.String('-l,--selector', { description: 'Only resources with these labels (k=v,…)' });

  async execute(): Promise<number> {
    const { client } = this.context;
    const base = `/v1/resources/${encodeURIComponent(this.kind)}`;
    if (this.selector) parseSelector(this.selector); // a malformed -l is a usage error here, not a daemon 400
    const items = this.name
      ? [await client.get<ResourceView>(`${base}/${encodeURIComponent(this.name)}`)]
      : (await client.get<{ items: ResourceView[] }>(`${base}${this.selector ? `?labels=${encodeURIComponent(this.selector)}` : ''}`)).items;
    switch (this.output) {
      case 'json':
        this.out(JSON.stringify(this.name ? items[0] : { items }, null, 2));
        return 0;
      case 'yaml': {
        const { default: YAML } = await import('yaml');
        this.context.stdout.write(items.map((r) => YAML.stringify(asManifest(r))).join('---\n'));
        return 0;
      }
      case 'table':
      case 'wide':
        break;
      default:
        throw new CliError(`-o must be table, wide, yaml or json, not "${this.output}"`);
    }
    if (items.length === 0) {
      this.out(`No ${this.kind} found.`);
      return 0;
    }
    const ready = (r: ResourceView) => r.status.conditions?.find((c) => c.type === 'Ready');
    const nameWidth = Math.max(4, ...items.map((r) => r.metadata.name.length));
    this.context.stdout.write(
      renderTable<ResourceView>(
        [
          { header: 'NAME', width: nameWidth, value: (r) => r.metadata.name },
          { header: 'READY', width: 7, value: (r) => ready(r)?.status ?? '-' },
          { header: 'REASON', width: 16, value: (r) => ready(r)?.reason || '-' },
          { header: 'AGE', width: 5, value: (r) => age(r.metadata.createdAt) },
          ...(this.output === 'wide'
            ? [
                { header: 'SOURCE', width: 24, value: (r: ResourceView) => (r.metadata as { source?: string }).source ?? '-' },
                { header: 'ID', width: 0, value: (r: ResourceView) => r.metadata.uid },
              ]
            : []),
        ],
        items,
      ),
    );
    return 0;
  }
}
