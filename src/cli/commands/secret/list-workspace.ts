// `aegis secret list-workspace`: list workspace-wide secret names.
import { Command } from 'clipanion';
import { AegisCommand } from '../../base-command.js';

export class SecretListWorkspaceCommand extends AegisCommand {
  static override paths = [['secret', 'list-workspace']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'list workspace-wide secret names',
    details: `
      Values are never shown.
    `,
    examples: [['List workspace secrets', '$0 secret list-workspace']],
  });

  async execute(): Promise<number> {
    const r = { keys: await this.context.aegis.secrets.list(undefined) };
    this.out(r.keys.length ? ['Workspace secrets:', ...r.keys.map((k) => `  ${k}`)].join('\n') : 'No workspace secrets.');
    return 0;
  }
}
