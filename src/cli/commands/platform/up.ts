// `aegis up`: start aegisd in the background and wait until it answers.
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { runningPid } from '../../../daemon/pid-file.js';
import { AegisCommand } from '../../base-command.js';
import { startDaemonProcess } from '../../client/daemon-process.js';

/** The seed waits 2 s; a first start on a slow CI machine can take longer, so we allow more before failing. */
const START_WAIT_MS = 10_000;

export class UpCommand extends AegisCommand {
  static override paths = [['up']];
  static override usage = Command.Usage({
    category: 'Platform commands',
    description: 'start the aegisd daemon',
    details: `
      Starts \`aegisd\` (found next to the \`aegis\` binary) in the background and waits for its PID file at \`$AEGIS_HOME/data/aegisd.pid\`, which it writes once it accepts requests. If the daemon is already running, says so and exits without error.
    `,
    examples: [
      ['Start the daemon', '$0 up'],
      ['Keep a directory of manifests applied', '$0 up --watch ./deploy'],
    ],
  });

  watch = Option.String('--watch', { description: 'Directory of manifests to apply (with prune) whenever it changes' });

  async execute(): Promise<number> {
    const { paths, env } = this.context;
    const running = runningPid(paths.pidFile);
    if (running !== undefined) {
      this.out(`aegisd already running (pid ${running})${this.watch ? '; restart it (aegis down) to change the watched directory' : ''}`);
      return 0;
    }
    const pid = await startDaemonProcess(paths, this.watch ? { ...env, AEGIS_WATCH: path.resolve(this.watch) } : env, START_WAIT_MS);
    this.out(`aegisd started (pid ${pid})`);
    return 0;
  }
}
