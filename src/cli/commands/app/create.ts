// `aegis app create`: define an app (image, command, ports) as an App resource.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { notAvailable } from '../../cli-error.js';

export class AppCreateCommand extends AegisCommand {
  static override paths = [['app', 'create']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'create a new app definition',
    details: `
      Everything after \`--\` is the command to run inside the machine. \`--expose\` may be given several times.
    `,
    examples: [['Create a web app', '$0 app create --name myapp --image python:3.12-alpine --expose 80 -- python -m http.server 80']],
  });

  name = Option.String('--name', { required: true, description: 'App name' });
  image = Option.String('--image', { required: true, description: 'OCI image reference' });
  expose = Option.Array('--expose', [], { description: 'Port to expose (repeatable)' });
  command = Option.Rest({ required: 1 });

  async execute(): Promise<number> {
    throw notAvailable('app create');
  }
}
