// The control-channel paths and the headers that travel with them.

/** Every route the harness serves. Method and meaning are fixed per route (see messages.ts). */
export const ROUTES = {
  /** GET → HealthResponse. */
  health: '/v1/health',
  /** POST, ExecRequest in the `aegis-exec` header, body = stdin; response body = frame stream. */
  exec: '/v1/exec',
  /** POST SignalRequest → OkResponse. */
  signal: '/v1/signal',
  /** POST ShutdownRequest → ShutdownResponse, then the harness exits. */
  shutdown: '/v1/shutdown',
  /** POST ClockRequest → OkResponse: the guest's wall clock is set to the host's. */
  clock: '/v1/clock',
  /** POST with `aegis-port`; after a 200 the stream carries raw TCP bytes both ways. */
  forward: '/v1/forward',
  /** POST, no body; response body = the main process's frame stream from now on, as exec sends it. */
  attach: '/v1/attach',
  /**
   * POST, FilesRequest in the `aegis-files` header (see files.ts). Body = a write's data. A read answers
   * 200 with `aegis-files-meta` and the data as the body; the others answer JSON. Added without a major
   * bump: an older harness answers 404 NOT_FOUND, which the host reports as "restart the machine".
   */
  files: '/v1/files',
} as const;

export type RouteName = keyof typeof ROUTES;

/** HTTP method per route. */
export const ROUTE_METHODS: Record<RouteName, 'GET' | 'POST'> = {
  health: 'GET',
  exec: 'POST',
  signal: 'POST',
  shutdown: 'POST',
  clock: 'POST',
  forward: 'POST',
  attach: 'POST',
  files: 'POST',
};

/** Extra headers of the protocol (the version header lives in version.ts). */
export const HEADERS = {
  /** Request: the ExecRequest as base64url-encoded JSON (when it fits, see MAX_EXEC_HEADER_BYTES). */
  exec: 'aegis-exec',
  /** Request, instead of `aegis-exec` for a big request: the body starts with that many bytes of ExecRequest JSON. */
  execLength: 'aegis-exec-length',
  /** Response of exec and attach: the id the harness gave the exec (known before the process starts). */
  execId: 'aegis-exec-id',
  /** Request of forward: the guest TCP port on 127.0.0.1. */
  port: 'aegis-port',
  /** Request of files: the FilesRequest as base64url-encoded JSON. */
  files: 'aegis-files',
  /**
   * Request trailer of a files write, value `1`: the body is complete. A write whose body ends without it
   * was cut off (an RST_STREAM also ends the body as Node reads it) and is not committed.
   */
  filesComplete: 'aegis-files-complete',
  /** Response of a files read: FilesReadMeta as base64url-encoded JSON. */
  filesMeta: 'aegis-files-meta',
} as const;

/** Content type of the exec and attach response bodies (frames, see frames.ts). */
export const FRAME_CONTENT_TYPE = 'application/vnd.aegis.frames';
