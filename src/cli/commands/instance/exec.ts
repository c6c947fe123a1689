// `aegis exec`: execute a command inside a running instance.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class ExecCommand extends AegisCommand {
  static override paths = [['exec']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'execute a command inside a running instance',
    examples: [['Exec by app name', '$0 exec myapp -- echo hello']],
  });

  target = Option.String({ name: 'TARGET' });
  command = Option.Rest({ required: 1 });

  async execute(): Promise<number> {
    throw notAvailable('exec');
  }
}
