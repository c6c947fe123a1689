// `aegis down`: stop aegisd with SIGTERM and wait for it to exit.
import { Command } from 'clipanion';
import { runningPid } from '../../../daemon/pid-file.js';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';
import { stopDaemonProcess } from '../../client/daemon-process.js';

const STOP_WAIT_MS = 5_000;

export class DownCommand extends AegisCommand {
  static override paths = [['down']];
  static override usage = Command.Usage({
    category: 'Platform commands',
    description: 'stop the aegisd daemon',
    details: `
      Reads the PID file, sends SIGTERM and waits up to 5 seconds for the daemon to exit. Instance machines keep running (paused ones stay paused) and are re-adopted by the next daemon; running tasks are stopped. If the daemon is not running, says so and exits without error.
    `,
    examples: [['Stop the daemon', '$0 down']],
  });

  async execute(): Promise<number> {
    const pid = runningPid(this.context.paths.pidFile);
    if (pid === undefined) {
      this.out('aegisd is not running');
      return 0;
    }
    this.out(`aegisd stopping (pid ${pid})`);
    if (!(await stopDaemonProcess(pid, STOP_WAIT_MS))) throw new CliError(`aegisd (pid ${pid}) did not exit within ${STOP_WAIT_MS / 1000} s`);
    this.out('aegisd stopped');
    return 0;
  }
}
