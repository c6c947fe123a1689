// `aegis image pull`: fetch an image into the cache ahead of time.
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { PULL_POLICIES } from '../../../images/pull-policy.js';
import { AegisCommand } from '../../base-command.js';
import { pullImage } from '../../client/image-pull.js';
import { formatBytes } from '../../output/bytes.js';

export class ImagePullCommand extends AegisCommand {
  static override paths = [['image', 'pull']];
  static override usage = Command.Usage({
    category: 'Image commands',
    description: 'pull an image into the local cache',
    details: `
      Accepts registry references (\`alpine:3.21\` means \`docker.io/library/alpine:3.21\`), \`oci:DIR[:TAG]\` (an OCI image layout) and \`docker-archive:FILE.tar\` (\`docker save\` output). Logins come from \`~/.docker/config.json\`. Registries on localhost are spoken to over plain HTTP; others need HTTPS unless listed under \`images.insecureRegistries\` in \`$AEGIS_HOME/config.yaml\`.

      Progress is shown on a terminal. \`--pull always\` contacts the registry even when the image is cached (default here).
    `,
    examples: [
      ['Pull from Docker Hub', '$0 image pull alpine:3.21'],
      ['Import a docker save file', '$0 image pull docker-archive:./tool.tar'],
    ],
  });

  pull = Option.String('--pull', 'always', { description: 'always, missing or never', validator: t.isEnum(PULL_POLICIES) });
  ref = Option.String();

  async execute(): Promise<number> {
    const image = await pullImage(this.context.client, this.ref, this.pull, this.context.stderr);
    this.out(`${image.ref} ${image.digest} ${formatBytes(image.size)}`);
    return 0;
  }
}
