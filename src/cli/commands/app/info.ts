// `aegis app info`: an app's definition and its releases, newest first.
import { Command, Option } from 'clipanion';
import type { AppSpec } from '../../../resources/app.js';
import type { ReleaseSpec, ReleaseStatus } from '../../../resources/release.js';
import { AegisCommand } from '../../base-command.js';
import { formatCommand } from '../../output/command-line.js';
import { notReady, type ResourceView } from '../../output/resource-view.js';

export class AppInfoCommand extends AegisCommand {
  static override paths = [['app', 'info']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'show details of an app and its releases',
    examples: [['Show an app', '$0 app info myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    const { client } = this.context;
    const ref = encodeURIComponent(this.app);
    const app = await client.get<ResourceView<AppSpec>>(`/v1/apps/${ref}`);
    const { items: releases } = await client.get<{ items: ResourceView<ReleaseSpec, ReleaseStatus>[] }>(`/v1/apps/${ref}/releases`);
    const spec = app.spec;
    const lines = [
      `Name:    ${app.metadata.name}`,
      `ID:      ${app.metadata.uid}`,
      `Image:   ${spec.image ?? `(from kit ${spec.kit})`}`,
      ...(spec.kit ? [`Kit:     ${spec.kit}`] : []),
      `Command: ${spec.command ? formatCommand(spec.command) : spec.kit ? '(from kit)' : ''}`,
      `Ports:   ${spec.expose?.length ? spec.expose.join(', ') : spec.kit ? '(from kit)' : 'none'}`,
    ];
    const problem = notReady(app);
    if (problem) lines.push(`Status:  ${problem.reason}: ${problem.message}`);
    lines.push('', `Releases (${releases.length}):`);
    for (const r of releases) {
      const state = r.status.phase === 'Ready' ? '' : r.status.phase === 'Failed' ? ` Failed: ${notReady(r)?.message ?? ''}` : ` ${r.status.phase ?? 'Pending'}`;
      lines.push(`  ${r.metadata.uid}${r.spec.label ? ` (${r.spec.label})` : ''}${state}`);
    }
    this.out(lines.join('\n'));
    return 0;
  }
}
