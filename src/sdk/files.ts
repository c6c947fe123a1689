// Files in a running (or paused: it wakes) instance or a running task's machine, over the daemon's files
// routes (FILES-CONTRACT: GET/PUT/DELETE /v1/{instances,tasks}/:id/files…). Contents stream both ways; a
// directory travels as a tar stream (mode and mtime kept). Paths are absolute guest paths.
import { Readable } from 'node:stream';
import { AegisApiError } from './errors.js';
import { readAll, type Transport } from './transport.js';

/** An instance (its name or id, or an app's name: that app's instance), or `{ task: id }` for a task's machine. */
export type FilesTarget = string | { task: string };

export interface FileStat {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Octal permission bits, e.g. "644". */
  mode: string;
  /** Milliseconds since the epoch. */
  mtime: number;
  /** A symlink's target. */
  target?: string;
}

export interface FileCallOptions {
  signal?: AbortSignal;
  /** The daemon gives up after this long (and says so with AEGIS_TIMEOUT). */
  timeoutMs?: number;
}

export interface WriteOptions extends FileCallOptions {
  /** Octal permission bits for a file ("644" or 0o644); default: the daemon's. */
  mode?: string | number;
  /** Modification time to set, as a Date or ms since the epoch. */
  mtime?: Date | number;
}

/** A file's contents being read, with what the daemon said about the file. */
export interface FileDownload {
  body: Readable;
  mode?: string;
  mtime?: number;
  /** Bytes in `body` (unknown for a masked read: `***` is shorter than the values it replaces). */
  size?: number;
  /** Bytes `maxBytes` left out (the body is the file's first bytes). */
  truncated?: number;
}

export interface ReadOptions extends FileCallOptions {
  /** A file: send at most this many bytes (`truncated` says how many were left out). */
  maxBytes?: number;
  /**
   * A file: the values of the machine's secrets (its app's and the workspace's) come back as `***`, as exec's
   * `mask` does. A masked read that `maxBytes` cut ends before any bytes that may begin a value.
   */
  mask?: boolean;
}

export type WritableData = Readable | AsyncIterable<Uint8Array> | Buffer | Uint8Array | string;

export class Files {
  constructor(private readonly transport: Transport) {}

  /** A path's contents, whatever it is: a file's bytes, or a directory as a tar stream (`type` says which). */
  async download(target: FilesTarget, path: string, opts: ReadOptions = {}): Promise<FileDownload & { type: 'file' | 'directory' }> {
    const query = { path, ...timeout(opts), ...(opts.maxBytes !== undefined ? { maxBytes: String(opts.maxBytes) } : {}), ...(opts.mask ? { mask: '1' } : {}) };
    const res = await this.transport.ok('GET', this.url(target, '', query), { signal: opts.signal });
    const type = res.headers['x-aegis-type'] === 'directory' || res.headers['content-type']?.startsWith('application/x-tar') ? 'directory' : 'file';
    const num = (h: string | string[] | undefined) => (typeof h === 'string' && h !== '' ? Number(h) : undefined);
    const mode = res.headers['x-aegis-mode'];
    const mtime = num(res.headers['x-aegis-mtime']);
    const size = type === 'file' ? num(res.headers['content-length']) : undefined;
    const truncated = num(res.headers['x-aegis-truncated']);
    return { type, body: res, ...(typeof mode === 'string' ? { mode } : {}), ...(mtime !== undefined ? { mtime } : {}), ...(size !== undefined ? { size } : {}), ...(truncated ? { truncated } : {}) };
  }

  /** Streams a file's contents. A directory is refused with AEGIS_INVALID (read it with readTar). */
  async read(target: FilesTarget, path: string, opts: ReadOptions = {}): Promise<FileDownload> {
    const { type, ...file } = await this.download(target, path, opts);
    if (type === 'directory') {
      file.body.destroy();
      throw new AegisApiError(400, 'AEGIS_INVALID', `${path} is a directory (read it with files.readTar)`);
    }
    return file;
  }

  /** A file's whole contents in memory (for small files; stream big ones with read). */
  async readBuffer(target: FilesTarget, path: string, opts: ReadOptions = {}): Promise<Buffer> {
    return readAll((await this.read(target, path, opts)).body, opts.signal);
  }

  /** A file's contents as UTF-8 text. */
  async readText(target: FilesTarget, path: string, opts: ReadOptions = {}): Promise<string> {
    return (await this.readBuffer(target, path, opts)).toString('utf8');
  }

  /** Writes a file (parents created; replaced whole, never half-written) from a stream, bytes or a string. */
  async write(target: FilesTarget, path: string, data: WritableData, opts: WriteOptions = {}): Promise<{ path: string; bytes: number }> {
    const query: Record<string, string> = { path, ...timeout(opts) };
    if (opts.mode !== undefined) query.mode = typeof opts.mode === 'number' ? opts.mode.toString(8) : opts.mode;
    if (opts.mtime !== undefined) query.mtime = String(typeof opts.mtime === 'number' ? opts.mtime : opts.mtime.getTime());
    return this.upload(target, query, data, 'application/octet-stream', opts.signal);
  }

  /** A directory as a tar stream, entries relative to it. */
  async readTar(target: FilesTarget, dir: string, opts: FileCallOptions = {}): Promise<Readable> {
    const { type, body } = await this.download(target, dir, opts);
    if (type === 'file') {
      body.destroy();
      throw new AegisApiError(400, 'AEGIS_INVALID', `${dir} is a file, not a directory (read it with files.read)`);
    }
    return body;
  }

  /** Extracts a tar stream into a directory (created when missing). */
  async writeTar(target: FilesTarget, dir: string, tar: WritableData, opts: FileCallOptions = {}): Promise<{ path: string; bytes: number }> {
    return this.upload(target, { path: dir, ...timeout(opts) }, tar, 'application/x-tar', opts.signal);
  }

  async stat(target: FilesTarget, path: string, opts: FileCallOptions = {}): Promise<FileStat> {
    return this.transport.get<FileStat>(this.url(target, '/stat', { path, ...timeout(opts) }), { signal: opts.signal });
  }

  /** The entries of a directory, one level: at most 1000, `truncated` says how many more there were. */
  async list(target: FilesTarget, path: string, opts: FileCallOptions = {}): Promise<{ items: FileStat[]; truncated?: number }> {
    return this.transport.get(this.url(target, '/list', { path, ...timeout(opts) }), { signal: opts.signal });
  }

  /** Deletes a file, or with `recursive` a directory and everything in it. */
  async remove(target: FilesTarget, path: string, opts: FileCallOptions & { recursive?: boolean } = {}): Promise<void> {
    await this.transport.delete(this.url(target, '', { path, ...(opts.recursive ? { recursive: '1' } : {}), ...timeout(opts) }), { signal: opts.signal });
  }

  private upload(target: FilesTarget, query: Record<string, string>, data: WritableData, type: string, signal?: AbortSignal) {
    const stream = data instanceof Readable ? data : typeof data === 'string' || data instanceof Uint8Array ? Readable.from([Buffer.from(data)]) : Readable.from(data);
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data instanceof Uint8Array ? data.length : undefined;
    return this.transport.json<{ path: string; bytes: number }>('PUT', this.url(target, '', query), {
      stream,
      headers: { 'content-type': type, ...(length !== undefined ? { 'content-length': String(length) } : {}) },
      ...(signal ? { signal } : {}),
    });
  }

  private url(target: FilesTarget, suffix: string, query: Record<string, string>): string {
    const base = typeof target === 'string' ? `/v1/instances/${encodeURIComponent(target)}` : `/v1/tasks/${encodeURIComponent(target.task)}`;
    return `${base}/files${suffix}?${new URLSearchParams(query).toString()}`;
  }
}

const timeout = (opts: FileCallOptions): Record<string, string> => (opts.timeoutMs !== undefined ? { timeoutMs: String(opts.timeoutMs) } : {});
