// Reading an instance's log (GET /v1/instances/ID/logs or /v1/apps/APP/logs): NDJSON entries, history then,
// following, new lines as they are written. Secret values are masked by the daemon before they are stored.
import type { InstanceLogEntry, LogSource } from '../logs/instance-log-entry.js';
import type { Transport } from './transport.js';

export interface LogsOptions {
  /** Keep streaming new lines until the signal aborts (or the loop breaks). */
  follow?: boolean;
  /** Only the last N lines of history. */
  tail?: number;
  /** A duration back from now (`10s`, `5m`) or an ISO 8601 time. */
  since?: string;
  source?: LogSource[];
  signal?: AbortSignal;
}

/** GET …/logs with the options as its query: NDJSON entries, one per line of output. */
export function readLogs(t: Transport, path: string, opts: LogsOptions): AsyncGenerator<InstanceLogEntry> {
  const q = new URLSearchParams();
  if (opts.follow) q.set('follow', 'true');
  if (opts.tail !== undefined) q.set('tail', String(opts.tail));
  if (opts.since) q.set('since', opts.since);
  if (opts.source?.length) q.set('source', opts.source.join(','));
  const qs = q.toString();
  return t.ndjson<InstanceLogEntry>(`${path}${qs ? `?${qs}` : ''}`, opts.signal ? { signal: opts.signal } : {});
}
