// `aegis describe KIND NAME`: one resource for people: identity, spec, and its conditions with reasons.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import type { ResourceView } from '../../output/resource-view.js';
import { age } from './get.js';
import { describeNetwork, type NetworkPolicy } from '../../../resources/network-policy.js';

export class DescribeCommand extends AegisCommand {
  static override paths = [['describe']];
  static override usage = Command.Usage({
    category: 'Declarative commands',
    description: 'show one resource with its status conditions',
    examples: [['Describe an app', '$0 describe app web']],
  });

  kind = Option.String({ name: 'KIND' });
  name = Option.String({ name: 'NAME' });

  async execute(): Promise<number> {
    const r = await this.context.client.get<ResourceView & { metadata: { source?: string; generation?: number } }>(`/v1/resources/${encodeURIComponent(this.kind)}/${encodeURIComponent(this.name)}`);
    const { default: YAML } = await import('yaml');
    const indent = (text: string) => text.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
    const { conditions = [], ...rest } = r.status;
    const lines = [
      `Name:       ${r.metadata.name}`,
      `Kind:       ${r.kind}`,
      `ID:         ${r.metadata.uid}`,
      `Source:     ${r.metadata.source ?? '-'}`,
      `Created:    ${r.metadata.createdAt} (${age(r.metadata.createdAt)} ago)`,
      `Labels:     ${Object.entries(r.metadata.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}`,
      ...(r.metadata.deletionTimestamp ? [`Deleting:   since ${r.metadata.deletionTimestamp}`] : []),
      ...(networkLine(r) ? [`Network:    ${networkLine(r)}`] : []),
      'Spec:',
      indent(YAML.stringify(r.spec)),
    ];
    if (Object.keys(rest).length) lines.push('Status:', indent(YAML.stringify(rest)));
    lines.push('Conditions:');
    if (conditions.length === 0) lines.push('  (none: nothing reconciles this kind, or not yet)');
    for (const c of conditions) lines.push(`  ${c.type}=${c.status}  ${c.reason}: ${c.message}  (since ${(c as { lastTransitionTime?: string }).lastTransitionTime ?? '?'})`);
    const { items: events } = await this.context.client.get<{ items: { time: string; type: string; reason: string; message: string }[] }>(
      `/v1/resources/${encodeURIComponent(this.kind)}/${encodeURIComponent(this.name)}/events`,
    );
    lines.push('Events:');
    if (events.length === 0) lines.push('  (none since the daemon started)');
    for (const e of events.slice(-10)) lines.push(`  ${age(e.time).padStart(4)} ago  ${e.type.padEnd(7)}  ${e.reason}: ${e.message}`);
    this.out(lines.join('\n'));
    return 0;
  }
}

/**
 * The network policy in force for kinds whose machines have one: the spec's, else the default. An app's
 * instance and a task with an app follow the app unless they set their own (the daemon resolves that).
 */
function networkLine(r: ResourceView): string | undefined {
  const spec = r.spec as { network?: NetworkPolicy; app?: string };
  if (r.kind === 'App' || (r.kind === 'Instance' && !spec.app)) return describeNetwork(spec.network);
  if (r.kind === 'Task') return spec.network || !spec.app ? describeNetwork(spec.network) : `that of app ${spec.app}`;
  if (r.kind === 'Instance') return `that of app ${spec.app}`;
  return undefined;
}
