// `aegis secret set-workspace`: set a workspace-wide secret.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { secretValue } from '../../client/secret-value.js';

export class SecretSetWorkspaceCommand extends AegisCommand {
  static override paths = [['secret', 'set-workspace']];
  static override usage = Command.Usage({
    category: 'Secret commands',
    description: 'set a workspace-wide secret',
    details: `
      Sends \`PUT /v1/secrets/{key}\`. Apps read workspace secrets they list with \`--secret KEY\` (or \`--secret '*'\`), and those their kit declares. \`VALUE\` may be \`-\` to read it from stdin (it then stays out of shell history). Values are encrypted at rest and never shown by any command.
    `,
    examples: [['Set a workspace secret', '$0 secret set-workspace GLOBAL_TOKEN abc123']],
  });

  key = Option.String({ name: 'KEY' });
  value = Option.String({ name: 'VALUE' });

  async execute(): Promise<number> {
    const value = await secretValue(this.value, this.context.stdin);
    await this.context.aegis.secrets.set(undefined, this.key, value);
    this.out(`Workspace secret ${this.key} set`);
    return 0;
  }
}
