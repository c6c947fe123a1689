// Host end of a machine's control channel: an HTTP/2 client session over the machine's byte stream.
import { EventEmitter } from 'node:events';
import http2, { type ClientHttp2Session } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import type { ClockRequest, ExecRequest, HealthResponse, ShutdownRequest, ShutdownResponse, SignalRequest } from '../../protocol/messages.js';
import { isCompatibleVersion, PROTOCOL_VERSION, versionMismatchMessage } from '../../protocol/version.js';
import { attachMain } from './attach.js';
import { callJson, type CallOptions } from './call.js';
import { ChannelError } from './channel-error.js';
import { DEFAULT_CALL_TIMEOUT_MS, MAX_REPLY_HEADER_BYTES, MAX_REPLY_HEADER_PAIRS } from './channel-limits.js';
import { startExec, type ExecHandle, type ExecOptions } from './exec.js';
import { openForward, type ForwardOptions } from './forward.js';
import { callFiles, readFiles, type FileRead, type FilesOptions } from './files.js';
import { breakSession, violationOf } from './protocol-violation.js';
import { checkFilesDelete, checkFilesList, checkFilesWrite, checkFileStat, checkHealthResponse, checkObject } from './reply-checks.js';
import type { FileStat, FilesDeleteResult, FilesListResult, FilesRequest, FilesWriteResult } from '../../protocol/files.js';

export { ChannelError, CONNECTION_LOST_MESSAGE } from './channel-error.js';
export type { ExecHandle, ExecOptions } from './exec.js';
export type { ForwardOptions } from './forward.js';
export type { FileRead, FilesOptions } from './files.js';

/** Flow-control window per stream (what a paused reader may leave in flight). */
const STREAM_WINDOW_BYTES = 1024 * 1024;

export interface ConnectOptions {
  /** Limit for the first health call (the harness may still be starting). Default 10 s. */
  timeoutMs?: number;
  /** Protocol version to announce. Only for tests of version negotiation. */
  protocolVersion?: number;
}

/**
 * One control session with one machine's harness. Calls never block each other: every exec,
 * forward and call is its own HTTP/2 stream. Emits 'close' (with the error, if any) once when the
 * session dies; pending execs then resolve with `error: 'machine connection lost'`.
 *
 * The harness is untrusted (the guest may have taken it over): every reply is bounded in size and time
 * (channel-limits.ts), and one that breaks the protocol ends the session (`protocolViolation` says why).
 */
export class ControlClient extends EventEmitter {
  /** Resolves when the session is gone (closed by us, by the harness, or by a broken stream). */
  readonly closed: Promise<void>;
  /** What the harness said at connect. */
  readonly harness: HealthResponse;
  private readonly session: ClientHttp2Session;
  private readonly version: number;

  private constructor(session: ClientHttp2Session, version: number, health: HealthResponse, closed: Promise<void>) {
    super();
    this.session = session;
    this.version = version;
    this.harness = health;
    this.closed = closed;
  }

  /** Starts a session over `duplex`, calls health and checks the harness speaks our protocol. */
  static async connect(duplex: Duplex, opts: ConnectOptions = {}): Promise<ControlClient> {
    const version = opts.protocolVersion ?? PROTOCOL_VERSION;
    const session = http2.connect('http://aegis-harness', {
      createConnection: () => duplex,
      // nghttp2 enforces both header limits once the harness acknowledged these settings; replyStatus()
      // catches a header block over the byte limit sent before that.
      settings: { initialWindowSize: STREAM_WINDOW_BYTES, enablePush: false, maxHeaderListSize: MAX_REPLY_HEADER_BYTES },
      maxHeaderListPairs: MAX_REPLY_HEADER_PAIRS,
      // nghttp2's own memory for this session (header tables, queued frames), in MB. Node already ends a
      // session flooded with SETTINGS, PING or invalid frames (ERR_HTTP2_ERROR below).
      maxSessionMemory: 64,
    });
    let lastError: Error | undefined;
    let client: ControlClient | undefined;
    session.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err;
      // nghttp2 found the peer flooding or sending invalid frames: as hostile as any violation we detect.
      if (err.code === 'ERR_HTTP2_ERROR') breakSession(session, err.message);
    });
    const closed = new Promise<void>((resolve) =>
      session.once('close', () => {
        resolve();
        client?.emit('close', lastError);
      }),
    );
    // The connection window stays at the default 64 KiB: see src/harness/server.ts for why.
    try {
      const health = await callJson(session, 'health', version, undefined, checkHealthResponse, { timeoutMs: opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS });
      if (!isCompatibleVersion(version, health.protocol)) {
        throw new ChannelError('PROTOCOL_MISMATCH', versionMismatchMessage(version, health.protocol));
      }
      client = new ControlClient(session, version, health, closed);
      if (session.destroyed) queueMicrotask(() => client?.emit('close', lastError));
      return client;
    } catch (err) {
      session.destroy();
      duplex.destroy();
      if (err instanceof ChannelError && err.code === 'CONNECTION_LOST' && lastError) {
        throw new ChannelError('CONNECTION_LOST', `cannot reach the harness: ${lastError.message}`);
      }
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.session.destroyed || this.session.closed;
  }

  /** Set when the session was ended because the harness broke the protocol: the machine is not to be trusted. */
  get protocolViolation(): ChannelError | undefined {
    return violationOf(this.session);
  }

  health(opts: CallOptions = { timeoutMs: DEFAULT_CALL_TIMEOUT_MS }): Promise<HealthResponse> {
    return callJson(this.session, 'health', this.version, undefined, checkHealthResponse, opts);
  }

  /** Runs a command; output and exit arrive on the handle. Never throws: failures resolve `exit` with an error. */
  exec(req: ExecRequest, opts: ExecOptions = {}): ExecHandle {
    return startExec(this.session, this.version, req, opts, (execId, sig) => this.signal(execId, sig));
  }

  /**
   * Re-connects to the machine's main process (after a daemon restart, or on a VM restored from a
   * snapshot): its output from now on (output written while nobody was attached is gone) and its exit,
   * at once if it already ended. `execId` and `pid` reject with a ChannelError NO_MAIN when no main
   * process was ever started; `exit` then resolves with that error. A later attach (from any host)
   * takes over: this handle's exit then resolves with an error while the process runs on. stdin is null.
   */
  attachMain(): ExecHandle {
    return attachMain(this.session, this.version, (execId, sig) => this.signal(execId, sig));
  }

  /** Signals an exec's process group; rejects with NO_SUCH_EXEC once it has exited. */
  async signal(execId: string, signal: string, opts: CallOptions = { timeoutMs: DEFAULT_CALL_TIMEOUT_MS }): Promise<void> {
    const body: SignalRequest = { execId, signal };
    await callJson(this.session, 'signal', this.version, body, checkObject, opts);
  }

  /**
   * Asks the harness to stop every process (SIGTERM, SIGKILL after graceMs), sync and exit. Resolves
   * with its reply, or undefined when the connection dropped first (the harness exiting is the point).
   */
  /** Sets the guest's wall clock to `epochMs` (a VM's clock stands still while it is paused or saved). */
  async setClock(epochMs: number, opts: CallOptions = { timeoutMs: DEFAULT_CALL_TIMEOUT_MS }): Promise<void> {
    const body: ClockRequest = { epochMs };
    await callJson(this.session, 'clock', this.version, body, checkObject, opts);
  }

  async shutdown(graceMs?: number): Promise<ShutdownResponse | undefined> {
    const body: ShutdownRequest = graceMs === undefined ? {} : { graceMs };
    try {
      const reply = await callJson(this.session, 'shutdown', this.version, body, checkObject, { timeoutMs: (graceMs ?? 5000) + 15_000 });
      return { ok: true, killed: Number.isSafeInteger(reply.killed) ? (reply.killed as number) : 0 };
    } catch (err) {
      if (err instanceof ChannelError && err.code === 'CONNECTION_LOST') return undefined;
      throw err;
    }
  }

  /** A Duplex to guest TCP 127.0.0.1:port. */
  forward(port: number, opts?: ForwardOptions): Promise<Duplex> {
    return openForward(this.session, this.version, port, opts);
  }

  /**
   * File operations in the guest, as `user` (see files.ts in src/protocol). A harness older than the
   * route rejects with a ChannelError NOT_FOUND; a missing path with NO_SUCH_FILE.
   */
  readFile(req: Omit<FilesRequest, 'op'>, opts: FilesOptions): Promise<FileRead> {
    return readFiles(this.session, this.version, { ...req, op: 'read' }, opts);
  }

  writeFile(req: Omit<FilesRequest, 'op'>, input: Readable, opts: FilesOptions): Promise<FilesWriteResult> {
    return callFiles(this.session, this.version, { ...req, op: 'write' }, input, checkFilesWrite, opts);
  }

  statFile(req: Omit<FilesRequest, 'op'>, opts: FilesOptions): Promise<FileStat> {
    return callFiles(this.session, this.version, { ...req, op: 'stat' }, undefined, (v) => checkFileStat(v), opts);
  }

  listFiles(req: Omit<FilesRequest, 'op'>, opts: FilesOptions): Promise<FilesListResult> {
    return callFiles(this.session, this.version, { ...req, op: 'list' }, undefined, checkFilesList, opts);
  }

  deleteFile(req: Omit<FilesRequest, 'op'>, opts: FilesOptions): Promise<FilesDeleteResult> {
    return callFiles(this.session, this.version, { ...req, op: 'delete' }, undefined, checkFilesDelete, opts);
  }

  /** Drops the session at once (running execs resolve with the connection-lost error). Never rejects. */
  close(): Promise<void> {
    if (!this.session.destroyed) this.session.destroy();
    return this.closed;
  }
}
