// `aegis app serve`: serve an app from its latest published release until Ctrl+C.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { serveUntilInterrupted } from '../../client/serve-session.js';

export class AppServeCommand extends AegisCommand {
  static override paths = [['app', 'serve']];
  static override usage = Command.Usage({
    category: 'App commands',
    description: 'start serving an app from its latest published release',
    details: `
      Creates an instance of the app (or returns the one already serving it), prints the router URL and blocks until Ctrl+C, which deletes the instance. The instance pauses when idle and wakes on the next request; requests reach it through the router as \`http://APP.localhost:8099/\`, \`http://127.0.0.1:8099/app/APP/\` or with the header \`X-Aegis-App: APP\`.
    `,
    examples: [['Serve an app', '$0 app serve myapp']],
  });

  app = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    const { stdout } = this.context;
    const inst = await this.context.aegis.apps.serve(this.app);
    return serveUntilInterrupted(this.context.aegis, stdout, inst.metadata.uid, (url) => `Serving ${inst.spec.app} on ${url}`);
  }
}
