// `aegis secret list`: list secret names of an app.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';

export class SecretListCommand extends AegisCommand {
  static override paths = [['secret', 'list']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'list secret names of an app',
    details: `
      Values are never shown.
    `,
    examples: [['List secrets', '$0 secret list myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    const r = await this.context.client.get<{ app: string; keys: string[] }>(`/v1/apps/${encodeURIComponent(this.app)}/secrets`);
    this.out(r.keys.length ? [`Secrets for ${r.app}:`, ...r.keys.map((k) => `  ${k}`)].join('\n') : `No secrets for ${r.app}.`);
    return 0;
  }
}
