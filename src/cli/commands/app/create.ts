// `aegis app create`: define an app (image or kit, command, ports, env, secrets, size) as an App resource.
import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';
import { AegisCommand } from '../../base-command.js';
import { imageRefFromCli } from '../../client/image-pull.js';
import { parseEnvPairs } from '../../options/env-pairs.js';
import { parseEgressFlag, type NetworkPolicy } from '../../../resources/network-policy.js';

export class AppCreateCommand extends AegisCommand {
  static override paths = [['app', 'create']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'create a new app definition',
    details: `
      Everything after \`--\` is the command to run inside the machine (it replaces the image's entrypoint and cmd). \`--expose\` may be given several times.

      The command runs as the image's USER unless \`--user\` names another (\`uid[:gid]\` or \`name[:group]\`; \`0\` is root).

      \`--kit NAME\` builds the app on an installed kit: its image, command, port and size are the defaults, so \`--image\` and the command may be left out. \`--secret KEY\` (repeatable) limits which secrets the app reads; \`--secret '*'\` allows every app and workspace secret. Without \`--secret\` the app reads all of its own secrets and none of the workspace's; a kit's declared secrets are always readable.

      \`--network\` is where the app's machines may connect to: \`all\` (the default: public addresses only), \`none\`, or a comma-separated list of host names, addresses, CIDRs and \`host:port\` (see \`aegis run\`). The App spec's \`network.egress\`.
    `,
    examples: [
      ['Create a web app', '$0 app create --name myapp --image python:3.12-alpine --expose 80 -- python -m http.server 80'],
      ['Create an app from a kit', '$0 app create --name agent --kit famiglia'],
    ],
  });

  name = Option.String('--name', { required: true, description: 'App name' });
  image = Option.String('--image', { description: 'OCI image reference (required unless --kit gives one)' });
  kit = Option.String('--kit', { description: 'Installed kit to build on' });
  expose = Option.Array('--expose', [], { description: 'Port to expose (repeatable)' });
  env = Option.Array('--env,-e', [], { description: 'Environment variable K=V (repeatable)' });
  user = Option.String('--user', { description: "User the command runs as: uid[:gid] or name[:group] (default: the image's USER)" });
  secret = Option.Array('--secret', [], { description: "Secret the app may read (repeatable; '*' for all)" });
  memory = Option.String('--memory', { description: 'Memory in MiB (default 512)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(16, 65536)]) });
  vcpus = Option.String('--vcpus', { description: 'Virtual CPUs (default 1)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 64)]) });
  network = Option.String('--network', { description: 'Where its machines may connect to: all (default), none, or a comma-separated list of hosts, CIDRs and host:port' });
  command = Option.Rest();

  async execute(): Promise<number> {
    if (!this.image && !this.kit) throw new UsageError('app create needs --image IMAGE (or --kit NAME)');
    if (this.command.length === 0 && !this.kit) throw new UsageError('app create needs the command after --, e.g. -- python -m http.server 80');
    const expose = this.expose.map((p) => {
      if (!/^\d+$/.test(p)) throw new UsageError(`--expose expects a port number, got "${p}"`);
      return Number(p);
    });
    let network: NetworkPolicy | undefined;
    try {
      network = this.network === undefined ? undefined : { egress: parseEgressFlag(this.network) };
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const body = {
      name: this.name,
      ...(this.image ? { image: imageRefFromCli(this.image) } : {}),
      ...(this.kit ? { kit: this.kit } : {}),
      ...(this.command.length ? { command: this.command } : {}),
      ...(expose.length ? { expose } : {}),
      ...(this.env.length ? { env: parseEnvPairs(this.env) } : {}),
      ...(this.user ? { user: this.user } : {}),
      ...(this.secret.length ? { secrets: this.secret } : {}),
      ...(network ? { network } : {}),
      ...(this.memory || this.vcpus ? { resources: { ...(this.memory ? { memoryMiB: this.memory } : {}), ...(this.vcpus ? { vcpus: this.vcpus } : {}) } } : {}),
    };
    const app = await this.context.aegis.apps.create(body);
    this.out(`App created: ${app.metadata.name} (id=${app.metadata.uid})`);
    return 0;
  }
}
