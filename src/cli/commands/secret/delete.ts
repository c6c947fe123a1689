// `aegis secret delete`: delete an app-scoped secret.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';

export class SecretDeleteCommand extends AegisCommand {
  static override paths = [['secret', 'delete']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'delete an app-scoped secret',
    examples: [['Delete a secret', '$0 secret delete myapp API_KEY']],
  });

  app = Option.String({ name: 'APP_NAME' });
  key = Option.String({ name: 'KEY' });

  async execute(): Promise<number> {
    const r = await this.context.client.delete<{ app: string }>(`/v1/apps/${encodeURIComponent(this.app)}/secrets/${encodeURIComponent(this.key)}`);
    this.out(`Secret ${this.key} deleted from ${r.app}`);
    return 0;
  }
}
