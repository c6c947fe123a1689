// `aegis logs`: print (and with --follow, stream) the logs of an instance or an app's instance.
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { AegisCommand } from '../../base-command.js';
import type { AegisContext } from '../../context.js';
import type { LogSource } from '../../../logs/instance-log-entry.js';
import type { LogsOptions } from '../../../sdk/logs.js';
import { formatLogLine, logLineStyle } from '../../output/log-line.js';

export interface LogFlags {
  follow: boolean;
  tail?: number;
  since?: string;
  source?: string;
  json: boolean;
}

export const tailOption = () =>
  Option.String('--tail', { description: 'Show only the last N lines of history', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(0)]) });

/** Whose log: `aegis logs` takes anything `aegis exec` takes (resolved by the daemon alike), `aegis app logs` an app. */
export interface LogsTarget {
  name: string;
  kind: 'auto' | 'app';
}

/** Streams log entries to stdout until the log ends, or, following, until Ctrl+C (which is a clean exit 0). */
export async function printLogs(context: AegisContext, target: LogsTarget, flags: LogFlags): Promise<number> {
  const { aegis, stdout } = context;
  const options = (signal: AbortSignal): LogsOptions => ({
    follow: flags.follow,
    ...(flags.tail !== undefined ? { tail: flags.tail } : {}),
    ...(flags.since ? { since: flags.since } : {}),
    // The daemon checks the names (and names a bad one).
    ...(flags.source ? { source: flags.source.split(',') as LogSource[] } : {}),
    signal,
  });
  const style = logLineStyle({ json: flags.json, isTTY: (stdout as { isTTY?: boolean }).isTTY, env: context.env });

  const abort = new AbortController();
  const stop = () => abort.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // `aegis logs app | head`: the reader left, which ends us as quietly as Ctrl+C does.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stop();
  };
  stdout.on('error', onStdoutError);
  try {
    const entries = target.kind === 'app' ? aegis.apps.logs(target.name, options(abort.signal)) : aegis.logs(target.name, options(abort.signal));
    for await (const entry of entries) {
      if (abort.signal.aborted) break;
      // Wait for a slow terminal or pipe: the daemon then waits for us, and no line is lost.
      if (!stdout.write(formatLogLine(entry, style))) await new Promise((resolve) => stdout.once('drain', resolve));
    }
    return 0;
  } catch (err) {
    if (abort.signal.aborted) return 0;
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    stdout.off('error', onStdoutError);
  }
}

export class LogsCommand extends AegisCommand {
  static override paths = [['logs']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'stream instance logs',
    details: `
      TARGET is an app name (that app's own instance, whatever other instance is named so) or an instance id or name. Prints the stored history, then with \`--follow\` keeps streaming new lines until Ctrl+C. Each line starts with its source in brackets (boot, server, exec, system); on a terminal the tag is coloured and stderr lines are red (no colour with NO_COLOR or when piped). Control characters in a line are shown as escapes (\`\\x1b\`), tab excepted, so a machine cannot forge a line or drive your terminal. \`--json\` prints the raw entries.

      \`--tail N\` keeps the last N lines of history, \`--since\` takes a duration (10s, 5m, 2h, 1d) or a time (2026-02-19T10:35:00Z), \`--source\` a comma-separated list of sources.
    `,
    examples: [['Follow logs', '$0 logs myapp --follow']],
  });

  follow = Option.Boolean('-f,--follow', false, { description: 'Stream live logs' });
  tail = tailOption();
  since = Option.String('--since', { description: 'Only lines since a duration ago (5m) or a time (ISO 8601)' });
  source = Option.String('--source', { description: 'Only these sources: boot, server, exec, system (comma-separated)' });
  json = Option.Boolean('--json', false, { description: 'Print raw JSON entries' });
  target = Option.String({ name: 'APP_NAME' });

  async execute(): Promise<number> {
    return printLogs(this.context, { name: this.target, kind: 'auto' }, this);
  }
}
