// `aegis up`: start aegisd in the background and wait until it answers.
import { Command } from 'clipanion';
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
    examples: [['Start the daemon', '$0 up']],
  });

  async execute(): Promise<number> {
    const { paths, env } = this.context;
    const running = runningPid(paths.pidFile);
    if (running !== undefined) {
      this.out(`aegisd already running (pid ${running})`);
      return 0;
    }
    const pid = await startDaemonProcess(paths, env, START_WAIT_MS);
    this.out(`aegisd started (pid ${pid})`);
    return 0;
  }
}
