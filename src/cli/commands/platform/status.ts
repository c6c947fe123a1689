// `aegis status`: is the daemon running, and on which backend.
import { Command, Option } from 'clipanion';
import { runningPid } from '../../../daemon/pid-file.js';
import { AegisCommand } from '../../base-command.js';
import { statusText } from '../../output/status-text.js';

export class StatusCommand extends AegisCommand {
  static override paths = [['status']];
  static override usage = Command.Usage({
    category: 'Platform commands',
    description: 'show daemon status',
    details: `
      Checks whether the daemon is running, then queries \`GET /v1/status\` for the backend name. Exits 1 when the daemon is not running.

      \`-o json\` prints the daemon's full status document.
    `,
    examples: [
      ['Show status', '$0 status'],
      ['Full status as JSON', '$0 status -o json'],
    ],
  });

  output = Option.String('-o,--output', 'text', { description: 'text or json' });

  async execute(): Promise<number> {
    if (runningPid(this.context.paths.pidFile) === undefined) {
      this.out('aegisd: not running');
      return 1;
    }
    const status = await this.context.aegis.status();
    if (this.output === 'json') {
      this.out(JSON.stringify(status, null, 2));
      return 0;
    }
    for (const line of statusText(status)) this.out(line);
    return 0;
  }
}
