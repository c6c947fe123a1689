// Request and response shapes of the control channel, and the checks the harness applies to them.
// New fields must be optional so that an older peer of the same major keeps working.

/** Run a command in the guest. Travels base64url-encoded in the `aegis-exec` header. */
export interface ExecRequest {
  /** argv[0] is looked up on the request's PATH (or the default one) unless it contains a slash. */
  argv: string[];
  /** The child's whole environment on top of the harness defaults (PATH, HOME, HOSTNAME). */
  env: Record<string, string>;
  /** Working directory; default `/`. */
  cwd?: string;
  /** true: the request body is the child's stdin. false: stdin is /dev/null. */
  stdin: boolean;
  /** The machine's main process: survives the loss of its stream and is reported by health. */
  main?: boolean;
  /**
   * Run as this user (`uid`, `uid:gid`, `name`, `name:group`; see user-spec.ts), resolved in the guest;
   * absent = as the harness (root). Its home becomes the default HOME.
   */
  user?: string;
}

/** First frame of an exec stream, once the process exists. */
export interface ExecStarted {
  execId: string;
  pid: number;
}

/** Last frame of an exec stream. */
export interface ExecExit {
  /** Exit code, or null when the process died by a signal (or never ran, see `error`). */
  code: number | null;
  /** Signal name such as `SIGKILL`, or null. */
  signal: string | null;
  /** Set when the status is not the process's own: a spawn failure, a lost connection. */
  error?: string;
}

/** Payload of an `error` frame: a harness-side problem with one exec; an exit frame still follows. */
export interface ExecErrorFrame {
  message: string;
}

export interface ExecInfo {
  execId: string;
  pid: number;
  argv0: string;
  main: boolean;
  startedAt: number;
}

export interface MainProcessInfo {
  execId: string;
  pid: number;
  running: boolean;
  /** Present once the main process has exited. */
  exit?: ExecExit;
}

export interface HealthResponse {
  /** The harness's protocol major version. */
  protocol: number;
  /** The aegis version the harness bundle was built from. */
  harnessVersion: string;
  pid: number;
  uptimeMs: number;
  hostname: string;
  /** Execs whose process is still running. */
  execs: ExecInfo[];
  /** The main process, once one was started. */
  main: MainProcessInfo | null;
  /** Exited but unreaped processes whose parent is the harness (orphans Node cannot reap). */
  zombies: number;
}

export interface SignalRequest {
  execId: string;
  /** Signal name, e.g. `SIGTERM`. Sent to the exec's whole process group. */
  signal: string;
}

export interface ShutdownRequest {
  /** Time children get between SIGTERM and SIGKILL. */
  graceMs?: number;
}

export interface ShutdownResponse {
  ok: true;
  /** Processes that were still running after the grace period and got SIGKILL. */
  killed: number;
}

/** Sets the guest's wall clock: a VM's stands still while it is paused or saved to disk. */
export interface ClockRequest {
  /** The host's time, milliseconds since the epoch. */
  epochMs: number;
}

export interface OkResponse {
  ok: true;
}

/** Machine-readable error codes a harness reply can carry. */
export const ERROR_CODES = [
  'PROTOCOL_MISMATCH',
  'BAD_REQUEST',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'NO_SUCH_EXEC',
  'MAIN_RUNNING',
  'NO_MAIN',
  'FORWARD_REFUSED',
  'SHUTTING_DOWN',
  'NO_SUCH_FILE',
  'PERMISSION_DENIED',
  'NO_SPACE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Body of every non-2xx reply. */
export interface ErrorResponse {
  code: ErrorCode;
  message: string;
}

/**
 * Largest `aegis-exec` header value a client sends. HTTP/2 implementations cap one header field
 * near 64 KiB (nghttp2 does), so a bigger request (a large env) goes at the start of the body instead,
 * announced by `aegis-exec-length`.
 */
export const MAX_EXEC_HEADER_BYTES = 32 * 1024;

/** Largest ExecRequest JSON the harness accepts at the start of a body. */
export const MAX_EXEC_BODY_REQUEST_BYTES = 16 * 1024 * 1024;

/** Encodes an ExecRequest for the `aegis-exec` header. */
export function encodeExecRequest(req: ExecRequest): string {
  return Buffer.from(JSON.stringify(req), 'utf8').toString('base64url');
}

/** Decodes and checks an `aegis-exec` header; throws an Error with a one-line message when invalid. */
export function decodeExecRequest(header: unknown): ExecRequest {
  if (typeof header !== 'string' || header === '') throw new Error('missing aegis-exec header');
  return parseExecRequestJson(Buffer.from(header, 'base64url'), 'aegis-exec header is not base64url-encoded JSON');
}

/** Parses and checks ExecRequest JSON bytes (the body form). */
export function parseExecRequestJson(bytes: Uint8Array, whatIfInvalid = 'exec request is not valid JSON'): ExecRequest {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw new Error(whatIfInvalid);
  }
  return checkExecRequest(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the shape of a decoded ExecRequest, ignoring unknown fields (they may come from a newer host). */
export function checkExecRequest(value: unknown): ExecRequest {
  if (!isRecord(value)) throw new Error('exec request must be an object');
  const { argv, env, cwd, stdin, main, user } = value;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new Error('exec request: argv must be a non-empty array of strings');
  }
  if (argv[0] === '') throw new Error('exec request: argv[0] is empty');
  if (argv.some((a: string) => a.includes('\0'))) throw new Error('exec request: argv contains a NUL byte');
  if (!isRecord(env) || !Object.values(env).every((v) => typeof v === 'string')) {
    throw new Error('exec request: env must map names to strings');
  }
  for (const [name, v] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0') || (v as string).includes('\0')) {
      throw new Error(`exec request: invalid environment variable ${JSON.stringify(name)}`);
    }
  }
  if (cwd !== undefined && (typeof cwd !== 'string' || cwd === '' || cwd.includes('\0'))) {
    throw new Error('exec request: cwd must be a non-empty string');
  }
  if (typeof stdin !== 'boolean') throw new Error('exec request: stdin must be a boolean');
  if (main !== undefined && typeof main !== 'boolean') throw new Error('exec request: main must be a boolean');
  // The form is checked where it is resolved (harness/run-as.ts), so a bad image USER fails like a bad command.
  if (user !== undefined && (typeof user !== 'string' || user === '' || user.length > 256)) {
    throw new Error('exec request: user must be a non-empty string of at most 256 characters');
  }
  return {
    argv: argv as string[],
    env: env as Record<string, string>,
    ...(cwd !== undefined ? { cwd: cwd as string } : {}),
    stdin,
    ...(main !== undefined ? { main: main as boolean } : {}),
    ...(user !== undefined ? { user: user as string } : {}),
  };
}

/** Checks a SignalRequest body. */
export function checkSignalRequest(value: unknown): SignalRequest {
  if (!isRecord(value)) throw new Error('signal request must be an object');
  if (typeof value.execId !== 'string' || value.execId === '') throw new Error('signal request: execId is required');
  if (typeof value.signal !== 'string' || value.signal === '') throw new Error('signal request: signal is required');
  return { execId: value.execId, signal: value.signal };
}

/** Checks a ClockRequest body. */
export function checkClockRequest(value: unknown): ClockRequest {
  if (!isRecord(value) || typeof value.epochMs !== 'number' || !Number.isSafeInteger(value.epochMs) || value.epochMs <= 0) {
    throw new Error('clock request: epochMs must be a positive integer');
  }
  return { epochMs: value.epochMs };
}

/** Checks a ShutdownRequest body. */
export function checkShutdownRequest(value: unknown): ShutdownRequest {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new Error('shutdown request must be an object');
  const { graceMs } = value;
  if (graceMs === undefined) return {};
  if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0) {
    throw new Error('shutdown request: graceMs must be a non-negative number');
  }
  return { graceMs };
}
