// The file operations of the control channel (route `files`): one request shape, its replies and checks.
// The request travels base64url-encoded in the `aegis-files` header; a write's data is the request body
// (the file's bytes, or a tar stream for a directory), a read's data the response body.
import { parseUserSpec } from './user-spec.js';

export const FILE_OPS = ['read', 'write', 'stat', 'list', 'delete'] as const;
export type FileOp = (typeof FILE_OPS)[number];

export interface FilesRequest {
  op: FileOp;
  /** Absolute guest path; `..` and symlinks resolve inside the guest's filesystem. */
  path: string;
  /** Whom the operation runs as (see ExecRequest.user); absent = root of the guest. */
  user?: string;
  /** write: the body is a tar stream to extract into the directory `path` (else the file's bytes). */
  tar?: boolean;
  /** write of a file: its permission bits (0..0o7777); default 0644, or the replaced file's. */
  mode?: number;
  /** write of a file: its modification time, ms since the epoch. */
  mtime?: number;
  /** delete: a directory with everything in it. */
  recursive?: boolean;
  /** read of a file: send at most this many bytes (the meta's `truncated` says how many were left out). */
  maxBytes?: number;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileStat {
  path: string;
  type: FileType;
  size: number;
  /** Permission bits as octal text, e.g. "644" or "4755". */
  mode: string;
  /** Modification time, ms since the epoch. */
  mtime: number;
  /** A symlink's target, as stored (not resolved). */
  target?: string;
}

/** The `aegis-files-meta` response header of a read: what the body is. */
export interface FilesReadMeta {
  /** `file`: the body is the file's bytes, exactly `size - (truncated ?? 0)` of them. `directory`: a tar stream. */
  type: 'file' | 'directory';
  size: number;
  mode: string;
  mtime: number;
  /** A file read with maxBytes: the bytes of its end that were not sent. */
  truncated?: number;
}

export interface FilesWriteResult {
  path: string;
  /** Bytes written: the file's size, or the sum of the extracted files' sizes. */
  bytes: number;
}

/** Most entries a list returns; `truncated` says how many more there were. */
export const MAX_LIST_ITEMS = 1000;

/** Largest JSON answer of a files call (a list of MAX_LIST_ITEMS entries with 4096-character paths fits). */
export const MAX_FILES_REPLY_BYTES = 8 * 1024 * 1024;

export interface FilesListResult {
  items: FileStat[];
  truncated?: number;
}

export interface FilesDeleteResult {
  path: string;
  deleted: true;
}

const MAX_PATH_CHARS = 4096;

/** Why `path` cannot name a guest path (to follow the parameter's name), or undefined when it can. */
export function guestPathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return 'is missing';
  if (!path.startsWith('/')) return `must be an absolute path, got "${path}"`;
  if (path.length > MAX_PATH_CHARS) return `is longer than ${MAX_PATH_CHARS} characters`;
  if (path.includes('\0')) return 'contains a NUL byte';
  return undefined;
}

export function encodeFilesRequest(req: FilesRequest): string {
  return Buffer.from(JSON.stringify(req), 'utf8').toString('base64url');
}

/** Decodes and checks an `aegis-files` header; throws an Error with a one-line message when invalid. */
export function decodeFilesRequest(header: unknown): FilesRequest {
  if (typeof header !== 'string' || header === '') throw new Error('missing aegis-files header');
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error('aegis-files is not base64url JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('aegis-files is not a JSON object');
  if (!FILE_OPS.includes(v.op as FileOp)) throw new Error(`op must be one of ${FILE_OPS.join(', ')}`);
  const problem = guestPathProblem(v.path);
  if (problem) throw new Error(`path ${problem}`);
  if (v.user !== undefined && (typeof v.user !== 'string' || !parseUserSpec(v.user))) throw new Error('user is not uid[:gid] or name[:group]');
  if (v.mode !== undefined && !(Number.isInteger(v.mode) && (v.mode as number) >= 0 && (v.mode as number) <= 0o7777)) throw new Error('mode must be an integer in 0..0o7777');
  if (v.mtime !== undefined && !(Number.isSafeInteger(v.mtime) && (v.mtime as number) >= 0)) throw new Error('mtime must be a non-negative integer (ms)');
  if (v.maxBytes !== undefined && !(Number.isSafeInteger(v.maxBytes) && (v.maxBytes as number) >= 0)) throw new Error('maxBytes must be a non-negative integer');
  for (const flag of ['tar', 'recursive'] as const) {
    if (v[flag] !== undefined && typeof v[flag] !== 'boolean') throw new Error(`${flag} must be a boolean`);
  }
  return {
    op: v.op as FileOp,
    path: v.path as string,
    ...(v.user !== undefined ? { user: v.user as string } : {}),
    ...(v.tar !== undefined ? { tar: v.tar as boolean } : {}),
    ...(v.mode !== undefined ? { mode: v.mode as number } : {}),
    ...(v.mtime !== undefined ? { mtime: v.mtime as number } : {}),
    ...(v.recursive !== undefined ? { recursive: v.recursive as boolean } : {}),
    ...(v.maxBytes !== undefined ? { maxBytes: v.maxBytes as number } : {}),
  };
}

/** Permission bits as the octal text FileStat carries. */
export const modeText = (mode: number): string => (mode & 0o7777).toString(8).padStart(3, '0');

/** Parses octal permission text ("644", "0755"); undefined when it is not one. */
export function parseModeText(text: string): number | undefined {
  return /^[0-7]{1,4}$/.test(text) ? Number.parseInt(text, 8) : undefined;
}


