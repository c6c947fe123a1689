// `aegis ui`: prints (and opens) the URL of the daemon's web dashboard, starting the dashboard if needed.
import { spawn } from 'node:child_process';
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';

export class UiCommand extends AegisCommand {
  static override paths = [['ui']];
  static override usage = Command.Usage({
    category: 'Platform commands',
    description: 'open the web dashboard',
    details: `
      Asks the daemon for its dashboard (started on first use, on 127.0.0.1 at \`ui.port\` in config.yaml; 0, the default, picks a free port) and prints its URL. The URL carries a token made anew at every daemon start: anyone holding it can drive the daemon, so do not share it. Requests without it get 401.

      When the output is a terminal and a desktop is running, the URL is also opened in the default browser (\`xdg-open\`, \`open\` on macOS); \`--no-open\` only prints it.
    `,
    examples: [
      ['Open the dashboard', '$0 ui'],
      ['Print the URL only', '$0 ui --no-open'],
    ],
  });

  noOpen = Option.Boolean('--no-open', false, { description: 'only print the URL, do not open a browser' });

  async execute(): Promise<number> {
    const { url } = await this.context.client.post<{ url: string }>('/v1/ui');
    this.out(url);
    if (!this.noOpen && process.stdout.isTTY) openInBrowser(url, this.context.env);
    return 0;
  }
}

/** Best effort: a missing opener or no desktop leaves the printed URL to copy. */
function openInBrowser(url: string, env: NodeJS.ProcessEnv): void {
  const opener = process.platform === 'darwin' ? 'open' : env.DISPLAY || env.WAYLAND_DISPLAY ? 'xdg-open' : undefined;
  if (!opener) return;
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
}
