// `aegis instance info`: an instance's state, what it runs, where to reach it, and when it was last active.
import { Command, Option } from 'clipanion';
import type { InstanceSpec, InstanceStatus } from '../../../resources/instance.js';
import { AegisCommand } from '../../base-command.js';
import { formatCommand } from '../../output/command-line.js';
import type { ResourceView } from '../../output/resource-view.js';

type Instance = ResourceView<InstanceSpec, InstanceStatus>;
const isoSeconds = (iso: string | undefined) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '-');

export class InstanceInfoCommand extends AegisCommand {
  static override paths = [['instance', 'info']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'show details of an instance',
    examples: [['Show an instance', '$0 instance info inst-1739893456789012345']],
  });

  id = Option.String({ name: 'INSTANCE_ID' });

  async execute(): Promise<number> {
    const { client } = this.context;
    const inst = await this.context.aegis.instances.get(this.id);
    const app = inst.spec.app ? await client.get<ResourceView<{ command?: string[]; expose?: number[] }>>(`/v1/apps/${encodeURIComponent(inst.spec.app)}`).catch(() => undefined) : undefined;
    const command = inst.spec.command ?? app?.spec.command;
    const ports = (inst.status.endpoints ?? []).map((e) => e.port);
    const endpoints = (inst.status.endpoints ?? []).filter((e) => e.hostPort).map((e) => `${e.port} → 127.0.0.1:${e.hostPort}`);
    const ready = inst.status.conditions?.find((c) => c.type === 'Ready');
    this.out(
      [
        `ID:          ${inst.metadata.uid}`,
        `State:       ${inst.status.state ?? 'starting'}${ready && ready.status !== 'True' && ready.message ? ` (${ready.message})` : ''}`,
        `App:         ${app?.metadata.uid ?? inst.spec.app ?? '-'}`,
        `Release:     ${inst.status.release ?? '-'}`,
        `Command:     ${command ? formatCommand(command) : '-'}`,
        `Ports:       ${(ports.length ? ports : (inst.spec.expose ?? app?.spec.expose ?? [])).join(', ') || '-'}`,
        ...(endpoints.length ? [`Endpoints:   ${endpoints.join(', ')}`] : []),
        `Connections: ${inst.status.connections ?? 0}`,
        `Created:     ${isoSeconds(inst.metadata.createdAt)}`,
        `Last Active: ${isoSeconds(inst.status.lastActiveAt)}`,
      ].join('\n'),
    );
    return 0;
  }
}
