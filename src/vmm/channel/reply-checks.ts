// Checks of what a harness sends back, before the daemon acts on it: replies and frames must have the
// protocol's shape, and guest text is cut to a bounded, printable size before it reaches a log line,
// a status message or an error. Unknown fields are dropped (a newer harness of the same major may add some).
import type { IncomingHttpHeaders } from 'node:http2';
import {
  ERROR_CODES,
  type ErrorResponse,
  type ExecErrorFrame,
  type ExecExit,
  type ExecStarted,
  type HealthResponse,
  type MainProcessInfo,
} from '../../protocol/messages.js';
import { MAX_LIST_ITEMS, type FileStat, type FileType, type FilesDeleteResult, type FilesListResult, type FilesReadMeta, type FilesWriteResult } from '../../protocol/files.js';
import { MAX_GUEST_TEXT_CHARS, MAX_REPLY_HEADER_BYTES } from './channel-limits.js';

/** A reply or frame that does not have the protocol's shape; the message says which field. */
export class ReplyShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyShapeError';
  }
}

type Record_ = Record<string, unknown>;

function record(value: unknown, what: string): Record_ {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ReplyShapeError(`${what} is not a JSON object`);
  return value as Record_;
}

function int(value: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) throw new ReplyShapeError(`${what} is not an integer in ${min}..${max}`);
  return value as number;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ReplyShapeError(`${what} is not a string`);
  return guestText(value);
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Guest text made safe to print: control characters (terminal escapes, newlines that would forge log
 * lines) become visible escapes, and text over `max` characters is cut with a marker saying how much.
 */
export function guestText(value: string, max = MAX_GUEST_TEXT_CHARS): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  const clean = cut.replace(CONTROL_CHARS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return value.length > max ? `${clean}… [${value.length - max} more characters cut]` : clean;
}

const EXEC_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SIGNAL_NAME = /^[A-Z][A-Z0-9+]{0,31}$/;

/** An exec id as the host sends it back in signal calls: short and plain. */
export function checkExecId(value: unknown, what = 'execId'): string {
  if (typeof value !== 'string' || !EXEC_ID.test(value)) throw new ReplyShapeError(`${what} is not a valid exec id`);
  return value;
}

export function checkExecStarted(value: unknown): ExecStarted {
  const v = record(value, 'started frame');
  return { execId: checkExecId(v.execId, 'started frame execId'), pid: int(v.pid, 'started frame pid', 1) };
}

export function checkExecExit(value: unknown, what = 'exit frame'): ExecExit {
  const v = record(value, what);
  const code = v.code === null ? null : int(v.code, `${what} code`, 0, 255);
  if (v.signal !== null && (typeof v.signal !== 'string' || !SIGNAL_NAME.test(v.signal))) throw new ReplyShapeError(`${what} signal is not a signal name`);
  const error = v.error === undefined ? undefined : text(v.error, `${what} error`);
  return { code, signal: v.signal as string | null, ...(error !== undefined ? { error } : {}) };
}

export function checkExecErrorFrame(value: unknown): ExecErrorFrame {
  return { message: text(record(value, 'error frame').message, 'error frame message') };
}

function checkMain(value: unknown): MainProcessInfo | null {
  if (value === null) return null;
  const v = record(value, 'health main');
  if (typeof v.running !== 'boolean') throw new ReplyShapeError('health main.running is not a boolean');
  return {
    execId: checkExecId(v.execId, 'health main.execId'),
    pid: int(v.pid, 'health main.pid', 0), // 0: a main that never started
    running: v.running,
    ...(v.exit !== undefined ? { exit: checkExecExit(v.exit, 'health main.exit') } : {}),
  };
}

/** The health reply: `protocol` decides whether we talk at all, `main` whether a machine is adopted. */
export function checkHealthResponse(value: unknown): HealthResponse {
  const v = record(value, 'health reply');
  if (!Array.isArray(v.execs)) throw new ReplyShapeError('health execs is not an array');
  return {
    protocol: int(v.protocol, 'health protocol', 0),
    harnessVersion: text(v.harnessVersion, 'health harnessVersion'),
    pid: int(v.pid, 'health pid', 1),
    uptimeMs: typeof v.uptimeMs === 'number' && Number.isFinite(v.uptimeMs) ? v.uptimeMs : 0,
    hostname: text(v.hostname, 'health hostname'),
    execs: v.execs as HealthResponse['execs'],
    main: checkMain(v.main),
    zombies: int(v.zombies ?? 0, 'health zombies', 0),
  };
}

/** Any JSON object: replies whose content the daemon does not act on (signal, clock). */
export function checkObject(value: unknown): Record_ {
  return record(value, 'reply');
}

/** The `{code, message}` body of a refusal, or undefined when it is not one. */
export function checkErrorResponse(value: unknown): ErrorResponse | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { code, message } = value as Record_;
  if (typeof message !== 'string' || !ERROR_CODES.includes(code as never)) return undefined;
  return { code: code as ErrorResponse['code'], message: guestText(message) };
}

/** Throws when a reply's header fields together exceed MAX_REPLY_HEADER_BYTES. */
export function checkReplyHeaders(headers: IncomingHttpHeaders): void {
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    size += name.length;
    for (const v of Array.isArray(value) ? value : [value ?? '']) size += String(v).length;
  }
  if (size > MAX_REPLY_HEADER_BYTES) throw new ReplyShapeError(`headers (${size} bytes) exceed the ${MAX_REPLY_HEADER_BYTES}-byte limit`);
}

const MODE_TEXT = /^[0-7]{3,4}$/;

function modeOf(value: unknown, what: string): string {
  if (typeof value !== 'string' || !MODE_TEXT.test(value)) throw new ReplyShapeError(`${what} is not octal permission bits`);
  return value;
}

function guestPath(value: unknown, what: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 4096) throw new ReplyShapeError(`${what} is not an absolute path`);
  return guestText(value, 4096);
}

/** The `aegis-files-meta` header of a read (base64url JSON). */
export function checkFilesReadMeta(header: unknown): FilesReadMeta {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(String(header ?? ''), 'base64url').toString('utf8'));
  } catch {
    throw new ReplyShapeError('the files meta header is not base64url JSON');
  }
  const v = record(value, 'files meta');
  if (v.type !== 'file' && v.type !== 'directory') throw new ReplyShapeError('files meta type is not file or directory');
  const size = int(v.size, 'files meta size', 0);
  const truncated = v.truncated === undefined ? undefined : int(v.truncated, 'files meta truncated', 1, size);
  return { type: v.type, size, mode: modeOf(v.mode, 'files meta mode'), mtime: int(v.mtime, 'files meta mtime', 0), ...(truncated !== undefined ? { truncated } : {}) };
}

export function checkFileStat(value: unknown, what = 'stat reply'): FileStat {
  const v = record(value, what);
  const types: FileType[] = ['file', 'directory', 'symlink', 'other'];
  if (!types.includes(v.type as FileType)) throw new ReplyShapeError(`${what} type is not one of ${types.join(', ')}`);
  return {
    path: guestPath(v.path, `${what} path`),
    type: v.type as FileType,
    size: int(v.size, `${what} size`, 0),
    mode: modeOf(v.mode, `${what} mode`),
    mtime: int(v.mtime, `${what} mtime`, Number.MIN_SAFE_INTEGER),
    ...(v.target !== undefined ? { target: text(v.target, `${what} target`) } : {}),
  };
}

export function checkFilesList(value: unknown): FilesListResult {
  const v = record(value, 'list reply');
  if (!Array.isArray(v.items) || v.items.length > MAX_LIST_ITEMS) throw new ReplyShapeError(`list items is not an array of at most ${MAX_LIST_ITEMS}`);
  return { items: v.items.map((i) => checkFileStat(i, 'list item')), ...(v.truncated !== undefined ? { truncated: int(v.truncated, 'list truncated', 1) } : {}) };
}

export function checkFilesWrite(value: unknown): FilesWriteResult {
  const v = record(value, 'write reply');
  return { path: guestPath(v.path, 'write reply path'), bytes: int(v.bytes, 'write reply bytes', 0) };
}

export function checkFilesDelete(value: unknown): FilesDeleteResult {
  const v = record(value, 'delete reply');
  if (v.deleted !== true) throw new ReplyShapeError('delete reply deleted is not true');
  return { path: guestPath(v.path, 'delete reply path'), deleted: true };
}
