// `aegis exec`: run a command inside a running (or paused: resumed) instance, streaming its output.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';
import { DaemonError } from '../../client/daemon-client.js';
import { writeEntry, type TaskLogEntry } from '../../client/task-output.js';
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
    const { client, stdout, stderr, stdin } = this.context;
    const request = { command: this.command, ...(this.env.length ? { env: parseEnvPairs(this.env) } : {}), ...(this.workdir ? { workdir: this.workdir } : {}), ...(this.user ? { user: this.user } : {}) };
    const path = `/v1/instances/${encodeURIComponent(this.target)}/exec`;
    let exit: { code: number | null; signal: string | null; message?: string } | undefined;
    try {
      const lines = this.interactive
        ? client.ndjson<TaskLogEntry & { exit?: typeof exit }>(path, { method: 'POST', stream: stdin, headers: { 'content-type': 'application/octet-stream', 'x-aegis-exec': JSON.stringify(request) } })
        : client.ndjson<TaskLogEntry & { exit?: typeof exit }>(path, { method: 'POST', body: request });
      for await (const entry of lines) {
        if (entry.exit) exit = entry.exit;
        else await writeEntry(entry, stdout, stderr);
      }
    } catch (err) {
      if (err instanceof DaemonError && err.status === 409) throw new CliError(err.message);
      throw err;
    }
    if (!exit) throw new CliError('the daemon ended the exec without an exit status', 255);
    if (exit.code === -1) {
      stderr.write(`error: ${exit.message ?? 'the instance stopped during the command'}\n`);
      return 255;
    }
    if (exit.code !== null) return exit.code;
    return 128 + (exit.signal ? ((await import('node:os')).constants.signals[exit.signal as 'SIGKILL'] ?? 0) : 0);
  }
}
