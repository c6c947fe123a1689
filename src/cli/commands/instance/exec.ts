// `aegis exec`: run a command inside a running (or paused: resumed) instance, streaming its output.
import type { Readable } from 'node:stream';
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { printExecution } from '../../client/task-output.js';
import { parseEnvPairs } from '../../options/env-pairs.js';

export class ExecCommand extends AegisCommand {
  static override paths = [['exec']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'execute a command inside a running instance',
    details: `
      TARGET is an app name (that app's own instance, whatever other instance is named so) or an instance id or name. A paused instance is resumed first and a starting one is waited for; a stopped one is refused (it starts again on its next request). stdout and stderr stream separately and \`aegis exec\` exits with the command's code; 255 when the instance stopped during the command. \`-i\` passes your stdin to the command. The command runs as the instance's server does (its app's \`user\`, else the image's USER, else root); \`--user USER\` (\`uid[:gid]\` or \`name[:group]\`) runs it as another one, \`--user 0\` as root.
    `,
    examples: [
      ['Exec by app name', '$0 exec myapp -- echo hello'],
      ['Exec by instance ID', '$0 exec inst-1739893456789012345 -- ls /workspace'],
    ],
  });

  target = Option.String({ name: 'TARGET' });
  env = Option.Array('--env,-e', [], { description: 'Environment variable K=V for the command (repeatable)' });
  workdir = Option.String('--workdir,-w', { description: 'Working directory inside the instance' });
  user = Option.String('--user,-u', { description: "Run as this user: uid[:gid] or name[:group] (default: the server's user)" });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Pass stdin to the command' });
  command = Option.Rest({ required: 1 });

  async execute(): Promise<number> {
    const { aegis, stdout, stderr, stdin } = this.context;
    const execution = aegis.exec(this.target, this.command, {
      ...(this.env.length ? { env: parseEnvPairs(this.env) } : {}),
      ...(this.workdir ? { workdir: this.workdir } : {}),
      ...(this.user ? { user: this.user } : {}),
      ...(this.interactive ? { stdin: stdin as Readable } : {}),
    });
    return printExecution(execution, stdout, stderr);
  }
}
