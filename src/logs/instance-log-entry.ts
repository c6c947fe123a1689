// One line of an instance's output as stored and served: NDJSON, one object per line of text.

export const LOG_SOURCES = ['boot', 'server', 'exec', 'system'] as const;
export type LogSource = (typeof LOG_SOURCES)[number];
export type InstanceLogStream = 'stdout' | 'stderr' | 'system';

export interface InstanceLogEntry {
  ts: string;
  stream: InstanceLogStream;
  source: LogSource;
  instance: string;
  app: string;
  exec_id?: string;
  line: string;
}

export const isLogSource = (s: string): s is LogSource => (LOG_SOURCES as readonly string[]).includes(s);

/** Parses one stored line; a torn or foreign line (e.g. from a crash mid-write) is skipped, not fatal. */
export function parseEntry(line: string): InstanceLogEntry | undefined {
  if (line.length === 0) return undefined;
  try {
    const e = JSON.parse(line) as InstanceLogEntry;
    return typeof e === 'object' && e !== null && typeof e.line === 'string' && typeof e.ts === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}
