// Host side of files: one file operation in the guest per HTTP/2 stream. Data streams both ways with the
// stream's flow control (nothing is buffered whole); JSON answers are bounded; the whole operation,
// transfer included, must finish within its timeout.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { PassThrough, type Readable } from 'node:stream';
import { encodeFilesRequest, MAX_FILES_REPLY_BYTES, type FilesReadMeta, type FilesRequest } from '../../protocol/files.js';
import { HEADERS } from '../../protocol/routes.js';
import { NGHTTP2_CANCEL, openStream, readBody, readRefusal, replyStatus } from './call.js';
import { ChannelError } from './channel-error.js';
import { breakSession, closedBeforeReply, sessionLost } from './protocol-violation.js';
import { checkFilesReadMeta, ReplyShapeError } from './reply-checks.js';

export interface FilesOptions {
  /** The whole operation: answer, and for reads and writes every byte. */
  timeoutMs: number;
  /** The caller gave up (its client went away): the stream is reset and the worker in the guest stopped. */
  signal?: AbortSignal;
}

export interface FileRead {
  meta: FilesReadMeta;
  /** The file's bytes (exactly meta.size) or a tar stream; errors when the guest could not send it all. */
  body: Readable;
}

/** Opens the stream and waits for the answer's headers: a refusal rejects with its ChannelError. */
function start(session: ClientHttp2Session, version: number, req: FilesRequest, input: Readable | undefined, opts: FilesOptions): Promise<{ stream: ClientHttp2Stream; headers: IncomingHttpHeaders; deadline: Deadline }> {
  return new Promise((resolve, reject) => {
    let stream: ClientHttp2Stream;
    try {
      stream = openStream(session, 'files', version, { [HEADERS.files]: encodeFilesRequest(req) }, input === undefined, input !== undefined);
    } catch (err) {
      return reject(err);
    }
    const deadline = new Deadline(stream, opts, `${req.op} of ${req.path}`, reject);
    if (input) {
      // Input that stops short (the caller's upload broke off) must not look like a whole file: reset.
      let ended = false;
      input.once('end', () => (ended = true));
      input.once('close', () => {
        if (!ended && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
      });
      input.on('error', () => stream.close(NGHTTP2_CANCEL));
      // Sent only after the whole input went out: the harness commits a write on this trailer alone.
      stream.once('wantTrailers', () => stream.sendTrailers({ [HEADERS.filesComplete]: '1' }));
      input.pipe(stream);
    }
    let responded = false;
    stream.once('response', (headers: IncomingHttpHeaders) => {
      responded = true;
      const status = replyStatus(session, headers, 'files');
      if (status instanceof ChannelError) return deadline.fail(status);
      if (status === 200) return resolve({ stream, headers, deadline });
      readRefusal(session, stream, status, 'files').then((e) => deadline.fail(e), (e) => deadline.fail(e));
    });
    stream.once('close', () => {
      if (!responded) deadline.fail(closedBeforeReply(session, stream, 'files'));
    });
  });
}

/** The operation's time limit and its caller's abort: either resets the stream and fails the operation once. */
class Deadline {
  private readonly timer: NodeJS.Timeout;
  private failed = false;
  private onFail: (err: ChannelError) => void;

  constructor(
    private readonly stream: ClientHttp2Stream,
    opts: FilesOptions,
    what: string,
    onFail: (err: ChannelError) => void,
  ) {
    this.onFail = onFail;
    this.timer = setTimeout(() => this.fail(new ChannelError('TIMEOUT', `${what} did not finish within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const abort = () => this.fail(new ChannelError('CONNECTION_LOST', `${what} was cancelled`));
    if (opts.signal?.aborted) queueMicrotask(abort);
    opts.signal?.addEventListener('abort', abort, { once: true });
    stream.once('close', () => clearTimeout(this.timer));
  }

  /** From now on a failure goes to `fn` (the body's reader) instead. */
  handOver(fn: (err: ChannelError) => void): void {
    this.onFail = fn;
  }

  fail(err: ChannelError): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.timer);
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
    this.onFail(err);
  }

  done(): void {
    clearTimeout(this.timer);
  }
}

/** A read: resolves once the guest has opened the path, with what it is and its data as a stream. */
export async function readFiles(session: ClientHttp2Session, version: number, req: FilesRequest, opts: FilesOptions): Promise<FileRead> {
  const { stream, headers, deadline } = await start(session, version, req, undefined, opts);
  let meta: FilesReadMeta;
  try {
    meta = checkFilesReadMeta(headers[HEADERS.filesMeta]);
  } catch (err) {
    throw breakSession(session, `the files reply: ${(err as ReplyShapeError).message}`);
  }
  const body = new PassThrough();
  const expected = meta.size - (meta.truncated ?? 0);
  let received = 0;
  deadline.handOver((err) => body.destroy(err));
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (meta.type === 'file' && received > expected) return deadline.fail(breakSession(session, `the files reply sent more than the ${expected} bytes it announced`));
    if (!body.write(chunk)) {
      stream.pause();
      body.once('drain', () => stream.resume());
    }
  });
  stream.once('end', () => {
    deadline.done();
    // A reset (the guest could not read it all) also ends the stream: that is not the whole data.
    if (stream.rstCode) return body.destroy(new ChannelError('INTERNAL', `${req.path}: the machine could not send all of it`));
    if (meta.type === 'file' && received !== expected) return body.destroy(new ChannelError('INTERNAL', `${req.path}: the machine sent ${received} of ${expected} bytes`));
    body.end();
  });
  stream.once('close', () => {
    if (!stream.readableEnded) body.destroy(stream.rstCode === NGHTTP2_CANCEL ? sessionLost(session) : new ChannelError('INTERNAL', `${req.path}: the machine could not send all of it`));
  });
  // The reader went away: stop the transfer (and the worker in the guest).
  body.once('close', () => {
    if (!stream.readableEnded) deadline.fail(new ChannelError('CONNECTION_LOST', `read of ${req.path} was cancelled`));
  });
  return { meta, body };
}

/** A write, stat, list or delete: resolves with the guest's JSON answer, as `check` returns it. */
export async function callFiles<T>(session: ClientHttp2Session, version: number, req: FilesRequest, input: Readable | undefined, check: (value: unknown) => T, opts: FilesOptions): Promise<T> {
  const { stream, deadline } = await start(session, version, req, input, opts);
  return new Promise<T>((resolve, reject) => {
    deadline.handOver(reject);
    readBody(session, stream, MAX_FILES_REPLY_BYTES, `the files ${req.op} reply`).then((buf) => {
      deadline.done();
      try {
        resolve(check(JSON.parse(buf.toString('utf8'))));
      } catch (err) {
        const why = err instanceof ReplyShapeError ? err.message : 'it is not JSON';
        reject(breakSession(session, `the files ${req.op} reply: ${why}`));
      }
    }, reject);
  });
}
