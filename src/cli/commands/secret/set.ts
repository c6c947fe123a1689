// `aegis secret set`: set an app-scoped secret.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { secretValue } from '../../client/secret-value.js';

export class SecretSetCommand extends AegisCommand {
  static override paths = [['secret', 'set']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'set an app-scoped secret',
    details: `
      Sends \`PUT /v1/apps/{app}/secrets/{key}\`; the app reads it at its next boot. \`VALUE\` may be \`-\` to read it from stdin (it then stays out of shell history). Values are encrypted at rest and never shown by any command.
    `,
    examples: [['Set a secret', '$0 secret set myapp API_KEY sk-test123']],
  });

  app = Option.String({ name: 'APP_NAME' });
  key = Option.String({ name: 'KEY' });
  value = Option.String({ name: 'VALUE' });

  async execute(): Promise<number> {
    const value = await secretValue(this.value, this.context.stdin);
    const r = await this.context.client.put<{ app: string }>(`/v1/apps/${encodeURIComponent(this.app)}/secrets/${encodeURIComponent(this.key)}`, { value });
    this.out(`Secret ${this.key} set for ${r.app}`);
    return 0;
  }
}
