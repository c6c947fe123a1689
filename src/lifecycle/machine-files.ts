// File operations in one machine (an instance's or a running task's), as the daemon offers them: the
// machine is reached (a paused instance wakes, a booting task is waited for) and kept awake while the
// operation lasts, the operation runs as the machine's workload user, and a failure becomes the one-line
// AegisError that names the path and the machine.
import { pipeline, type Readable } from 'node:stream';
import { AegisError, invalid, notFound, notSupported, tooLarge, unavailable } from '../errors/codes.js';
import { maskingStream } from '../logs/masking-stream.js';
import type { SecretMasker } from '../logs/secret-masker.js';
import type { FileStat, FilesDeleteResult, FilesListResult, FilesReadMeta, FilesWriteResult } from '../protocol/files.js';
import { ChannelError, type ControlClient } from '../vmm/channel/control-client.js';

/** What a file operation needs of its machine. */
export interface FilesMachine {
  client: ControlClient;
  /** Whom the workload runs as (the operation does too); undefined: root. */
  user?: string;
  /** Lets the machine sleep again (or be torn down) once the operation is over. */
  release(): void;
  /** A masker with the secret values this machine's output is masked for; undefined: none to mask. */
  masker?(): SecretMasker | undefined;
}

export interface FilesTarget {
  /** How errors name the machine: the instance or app name as given, or `task ID`. */
  label: string;
  /** The machine, awake; rejects with an AegisError when there is none to use (stopped, finished). */
  open(timeoutMs: number): Promise<FilesMachine>;
}

export interface FileCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface ReadOptions extends FileCallOptions {
  /** A file: send at most this many bytes (meta.truncated says how many were left out). */
  maxBytes?: number;
  /**
   * A file: its secret values (those the machine's output is masked for) come as `***`, as a masked exec's
   * output does; the body is then shorter than meta.size says. A directory's tar is refused.
   */
  mask?: boolean;
}

export interface WriteOptions extends FileCallOptions {
  /** The body is a tar stream to extract into the directory `path`. */
  tar?: boolean;
  mode?: number;
  mtime?: number;
}

export class MachineFiles {
  constructor(private readonly target: FilesTarget) {}

  /** The file's bytes or a directory's tar; the machine stays held until the body is consumed or dropped. */
  async read(path: string, opts: ReadOptions): Promise<{ meta: FilesReadMeta; body: Readable }> {
    const deadline = Date.now() + opts.timeoutMs;
    const m = await this.target.open(opts.timeoutMs);
    try {
      const r = await m.client.readFile({ path, ...this.user(m), ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}) }, { timeoutMs: Math.max(1, deadline - Date.now()), ...(opts.signal ? { signal: opts.signal } : {}) });
      r.body.once('close', () => m.release());
      r.body.on('error', () => undefined); // the consumer sees it; the hold goes either way
      if (!opts.mask) return r;
      if (r.meta.type !== 'file') {
        r.body.destroy();
        throw invalid(`${path} in ${this.target.label} is a directory: mask applies to a file (a tar stream cannot be masked)`);
      }
      const masker = m.masker?.();
      if (!masker) return r;
      // pipeline: a consumer that stops reading destroys the source too, which releases the machine.
      const masked = maskingStream(masker, r.meta.truncated ? { cut: true } : {});
      return { meta: r.meta, body: pipeline(r.body, masked, () => undefined) };
    } catch (err) {
      m.release();
      throw this.failure(err, path);
    }
  }

  write(path: string, input: Readable, opts: WriteOptions): Promise<FilesWriteResult> {
    const { tar, mode, mtime } = opts;
    return this.call(path, opts, (m, o) => m.client.writeFile({ path, ...this.user(m), ...(tar ? { tar } : {}), ...(mode !== undefined ? { mode } : {}), ...(mtime !== undefined ? { mtime } : {}) }, input, o));
  }

  stat(path: string, opts: FileCallOptions): Promise<FileStat> {
    return this.call(path, opts, (m, o) => m.client.statFile({ path, ...this.user(m) }, o));
  }

  list(path: string, opts: FileCallOptions): Promise<FilesListResult> {
    return this.call(path, opts, (m, o) => m.client.listFiles({ path, ...this.user(m) }, o));
  }

  remove(path: string, recursive: boolean, opts: FileCallOptions): Promise<FilesDeleteResult> {
    return this.call(path, opts, (m, o) => m.client.deleteFile({ path, ...this.user(m), ...(recursive ? { recursive } : {}) }, o));
  }

  private user(m: FilesMachine): { user?: string } {
    return m.user ? { user: m.user } : {};
  }

  private async call<T>(path: string, opts: FileCallOptions, fn: (m: FilesMachine, o: FileCallOptions) => Promise<T>): Promise<T> {
    const deadline = Date.now() + opts.timeoutMs;
    const m = await this.target.open(opts.timeoutMs);
    try {
      return await fn(m, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) });
    } catch (err) {
      throw this.failure(err, path);
    } finally {
      m.release();
    }
  }

  /** A channel error as the user reads it: one line naming the path and the machine. */
  private failure(err: unknown, path: string): Error {
    if (err instanceof AegisError || !(err instanceof ChannelError)) return err as Error;
    const where = `${path} in ${this.target.label}`;
    switch (err.code) {
      case 'NO_SUCH_FILE':
        return notFound(`no such file in ${this.target.label}: ${path}`);
      case 'BAD_REQUEST':
      case 'PERMISSION_DENIED':
        return invalid(`${where}: ${err.message}`);
      case 'NO_SPACE':
        return tooLarge(`${where}: ${err.message}`);
      case 'NOT_FOUND':
        // The route is newer than this machine's harness (same protocol major, see routes.ts).
        return notSupported(`${this.target.label} runs a harness without file operations; restart its machine to get the current one`);
      case 'TIMEOUT':
        return unavailable(`${where}: ${err.message}`);
      default:
        return unavailable(`${where}: ${err.message}`);
    }
  }
}
