// The protocol surface as plain data, compared by a test with the checked-in surface.json.
import { FRAME_CONTENT_TYPE, HEADERS, ROUTE_METHODS, ROUTES } from './routes.js';
import { FRAME_HEADER_BYTES, FRAME_TYPES, MAX_FRAME_PAYLOAD } from './frames.js';
import {
  ERROR_CODES,
  type ErrorResponse,
  type ExecErrorFrame,
  type ExecExit,
  type ExecInfo,
  type ExecRequest,
  type ExecStarted,
  type HealthResponse,
  type MainProcessInfo,
  type OkResponse,
  type ShutdownRequest,
  type ClockRequest,
  type ShutdownResponse,
  type SignalRequest,
} from './messages.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from './version.js';
import type { FileStat, FilesDeleteResult, FilesListResult, FilesReadMeta, FilesRequest, FilesWriteResult } from './files.js';

type Presence = 'required' | 'optional';
/** Every field of T marked as it is declared: tsc rejects a table that disagrees with the interface. */
type Fields<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? 'optional' : 'required' };

function fields<T>(table: Fields<T>): Record<string, Presence> {
  return table as Record<string, Presence>;
}

/** Field tables of the JSON messages; a field added to an interface fails the build until listed here. */
const MESSAGES = {
  ExecRequest: fields<ExecRequest>({ argv: 'required', env: 'required', cwd: 'optional', stdin: 'required', main: 'optional', user: 'optional' }),
  ExecStarted: fields<ExecStarted>({ execId: 'required', pid: 'required' }),
  ExecExit: fields<ExecExit>({ code: 'required', signal: 'required', error: 'optional' }),
  ExecErrorFrame: fields<ExecErrorFrame>({ message: 'required' }),
  ExecInfo: fields<ExecInfo>({ execId: 'required', pid: 'required', argv0: 'required', main: 'required', startedAt: 'required' }),
  MainProcessInfo: fields<MainProcessInfo>({ execId: 'required', pid: 'required', running: 'required', exit: 'optional' }),
  HealthResponse: fields<HealthResponse>({
    protocol: 'required',
    harnessVersion: 'required',
    pid: 'required',
    uptimeMs: 'required',
    hostname: 'required',
    execs: 'required',
    main: 'required',
    zombies: 'required',
  }),
  SignalRequest: fields<SignalRequest>({ execId: 'required', signal: 'required' }),
  ShutdownRequest: fields<ShutdownRequest>({ graceMs: 'optional' }),
  ClockRequest: fields<ClockRequest>({ epochMs: 'required' }),
  ShutdownResponse: fields<ShutdownResponse>({ ok: 'required', killed: 'required' }),
  OkResponse: fields<OkResponse>({ ok: 'required' }),
  ErrorResponse: fields<ErrorResponse>({ code: 'required', message: 'required' }),
  FilesRequest: fields<FilesRequest>({ op: 'required', path: 'required', user: 'optional', tar: 'optional', mode: 'optional', mtime: 'optional', recursive: 'optional', maxBytes: 'optional' }),
  FilesReadMeta: fields<FilesReadMeta>({ type: 'required', size: 'required', mode: 'required', mtime: 'required', truncated: 'optional' }),
  FileStat: fields<FileStat>({ path: 'required', type: 'required', size: 'required', mode: 'required', mtime: 'required', target: 'optional' }),
  FilesWriteResult: fields<FilesWriteResult>({ path: 'required', bytes: 'required' }),
  FilesListResult: fields<FilesListResult>({ items: 'required', truncated: 'optional' }),
  FilesDeleteResult: fields<FilesDeleteResult>({ path: 'required', deleted: 'required' }),
};

export interface ProtocolSurface {
  protocolVersion: number;
  versionHeader: string;
  routes: Record<string, { method: string; path: string }>;
  headers: Record<string, string>;
  frames: { contentType: string; headerBytes: number; lengthEncoding: string; maxPayload: number; types: Record<string, number> };
  errorCodes: string[];
  messages: Record<string, Record<string, Presence>>;
}

export function protocolSurface(): ProtocolSurface {
  const routes: ProtocolSurface['routes'] = {};
  for (const name of Object.keys(ROUTES) as (keyof typeof ROUTES)[]) {
    routes[name] = { method: ROUTE_METHODS[name], path: ROUTES[name] };
  }
  return {
    protocolVersion: PROTOCOL_VERSION,
    versionHeader: PROTOCOL_HEADER,
    routes,
    headers: { ...HEADERS },
    frames: {
      contentType: FRAME_CONTENT_TYPE,
      headerBytes: FRAME_HEADER_BYTES,
      lengthEncoding: 'uint32-be',
      maxPayload: MAX_FRAME_PAYLOAD,
      types: { ...FRAME_TYPES },
    },
    errorCodes: [...ERROR_CODES],
    messages: MESSAGES,
  };
}
