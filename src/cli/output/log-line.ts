// How `aegis logs` prints one entry: `[source] line`, coloured on a terminal, or raw JSON. The tag is always
// there and the line's control characters are escaped, so a machine can neither forge a line from another
// source (a `[system]` line) nor send escape sequences to the reader's terminal.
import { visibleText } from './visible-text.js';

export interface LogLineEntry {
  ts: string;
  stream: 'stdout' | 'stderr' | 'system';
  source: string;
  exec_id?: string;
  line: string;
}

export type LogLineStyle = 'tagged' | 'color' | 'json';

const RESET = '\x1b[0m';
const TAG_COLOR: Record<string, string> = {
  boot: '\x1b[35m', // magenta
  server: '\x1b[2m', // dim
  exec: '\x1b[36m', // cyan
  system: '\x1b[33m', // yellow
};
const RED = '\x1b[31m';

/** Coloured on a terminal unless NO_COLOR; tagged without colour when piped. */
export function logLineStyle(opts: { json: boolean; isTTY: boolean | undefined; env: NodeJS.ProcessEnv }): LogLineStyle {
  if (opts.json) return 'json';
  if (!opts.isTTY) return 'tagged';
  // https://no-color.org: any non-empty value turns colour off.
  return opts.env.NO_COLOR ? 'tagged' : 'color';
}

export function formatLogLine(entry: LogLineEntry, style: LogLineStyle): string {
  if (style === 'json') return `${JSON.stringify(entry)}\n`;
  const source = visibleText(entry.source);
  const text = visibleText(entry.line);
  switch (style) {
    case 'tagged':
      return `[${source}] ${text}\n`;
    case 'color': {
      const tag = `${TAG_COLOR[source] ?? ''}[${source}]${RESET}`;
      const line = entry.stream === 'stderr' ? `${RED}${text}${RESET}` : text;
      return `${tag} ${line}\n`;
    }
  }
}
