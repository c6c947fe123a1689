// How `aegis logs` prints one entry: the bare line when piped, a coloured source tag on a terminal, or raw JSON.

export interface LogLineEntry {
  ts: string;
  stream: 'stdout' | 'stderr' | 'system';
  source: string;
  exec_id?: string;
  line: string;
}

export type LogLineStyle = 'plain' | 'tagged' | 'color' | 'json';

const RESET = '\x1b[0m';
const TAG_COLOR: Record<string, string> = {
  boot: '\x1b[35m', // magenta
  server: '\x1b[2m', // dim
  exec: '\x1b[36m', // cyan
  system: '\x1b[33m', // yellow
};
const RED = '\x1b[31m';

/** Plain when stdout is not a terminal (pipes and files get the program's own text); tagged on one, coloured unless NO_COLOR. */
export function logLineStyle(opts: { json: boolean; isTTY: boolean | undefined; env: NodeJS.ProcessEnv }): LogLineStyle {
  if (opts.json) return 'json';
  if (!opts.isTTY) return 'plain';
  // https://no-color.org: any non-empty value turns colour off.
  return opts.env.NO_COLOR ? 'tagged' : 'color';
}

export function formatLogLine(entry: LogLineEntry, style: LogLineStyle): string {
  switch (style) {
    case 'json':
      return `${JSON.stringify(entry)}\n`;
    case 'plain':
      return `${entry.line}\n`;
    case 'tagged':
      return `[${entry.source}] ${entry.line}\n`;
    case 'color': {
      const tag = `${TAG_COLOR[entry.source] ?? ''}[${entry.source}]${RESET}`;
      const line = entry.stream === 'stderr' ? `${RED}${entry.line}${RESET}` : entry.line;
      return `${tag} ${line}\n`;
    }
  }
}
