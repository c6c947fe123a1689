// `aegis app delete`: delete an app with its releases and secrets (its workspace too with --purge).
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { AegisApiError } from '../../../sdk/errors.js';
import { pollUntil } from '../../client/wait-for.js';

const DELETE_TIMEOUT_MS = 60_000;

export class AppDeleteCommand extends AegisCommand {
  static override paths = [['app', 'delete']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'delete an app and all its releases',
    details: `
      Stops the app's instances and deletes its releases, its app-scoped secrets and the release images' pins, then the app. The app's workspace directory is kept unless \`--purge\` is given.
    `,
    examples: [['Delete an app', '$0 app delete myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });
  purge = Option.Boolean('--purge', false, { description: "Also delete the app's workspace directory" });

  async execute(): Promise<number> {
    const { client } = this.context;
    const path = `/v1/apps/${encodeURIComponent(this.app)}`;
    const r = await client.delete<{ name: string; id: string }>(`${path}${this.purge ? '?purge=true' : ''}`);
    // Deletion finishes in the app controller (releases first): report it done only when it is.
    await pollUntil(
      () => client.get(`/v1/apps/${r.id}`).then(() => undefined, (err: unknown) => (err instanceof AegisApiError && err.status === 404 ? true : Promise.reject(err))),
      DELETE_TIMEOUT_MS,
      `app "${r.name}" to be deleted`,
    );
    this.out(`App "${r.name}" deleted`);
    return 0;
  }
}
