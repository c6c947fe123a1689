// `aegis app publish`: publish a new release for an app and wait until its image is pulled and pinned.
import { Command, Option } from 'clipanion';
import type { ReleaseSpec, ReleaseStatus } from '../../../resources/release.js';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';
import { pullImage } from '../../client/image-pull.js';
import { pollUntil } from '../../client/wait-for.js';
import type { ResourceView } from '../../output/resource-view.js';

type Release = ResourceView<ReleaseSpec, ReleaseStatus>;

/** A publish pulls an image: generous, since a large image on a slow link takes minutes. */
const PUBLISH_TIMEOUT_MS = 30 * 60_000;

export class AppPublishCommand extends AegisCommand {
  static override paths = [['app', 'publish']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'publish a new release for an app',
    details: `
      Creates a release of the app's current image, then waits while the daemon pulls it (always asking the registry, so a tag that moved is picked up; progress on a terminal) and pins it for the release. The release is immutable; publish again after changing the app. A failed publish leaves a Failed release with the reason.
    `,
    examples: [['Publish release v1', '$0 app publish myapp --label v1']],
  });

  app = Option.String({ name: 'APP_NAME' });
  label = Option.String('--label', { description: 'Human-readable release label (e.g. v1)' });

  async execute(): Promise<number> {
    const { client, stderr } = this.context;
    const rel = await this.context.aegis.apps.publish(this.app, this.label ? { label: this.label } : {});
    // Joins the release's own pull (the daemon pulls a ref once at a time) to show its progress; the
    // outcome is the release's, so a pull error here is reported from the release below.
    await pullImage(client, rel.spec.image, 'always', stderr).catch(() => undefined);
    const done = await pollUntil(
      async () => {
        const cur = await client.get<Release>(`/v1/resources/releases/${rel.metadata.uid}`);
        return cur.status.phase === 'Ready' || cur.status.phase === 'Failed' ? cur : undefined;
      },
      PUBLISH_TIMEOUT_MS,
      `release ${rel.metadata.uid}`,
    );
    if (done.status.phase === 'Failed') {
      const why = done.status.conditions?.find((c) => c.type === 'Ready')?.message ?? 'unknown reason';
      throw new CliError(`release ${done.metadata.uid} failed: ${why}`);
    }
    this.out(`Published release ${done.metadata.uid}${done.spec.label ? ` (label=${done.spec.label})` : ''}`);
    return 0;
  }
}
