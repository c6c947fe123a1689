// POST files: one file operation, performed by a short-lived worker child (worker.ts) that runs as the
// workload's user, never by the harness itself.
//
// Why a child and not the harness: the harness is special. It runs with a real uid no workload has (which
// keeps it non-dumpable and hides its /proc from the guest), holds the lifeline and the control socket,
// and switching its credentials for one request would switch them for every thread of PID 1 at once,
// racing with everything else it serves. The worker is started like an exec (a clean environment, none of
// the harness's fds) as guest root, only so that it can load Node from the runtime at /.aegis (which no
// other user may read), and it drops to the workload's uid and gid (supplementary groups cleared, as exec
// does) before it looks at any path of the request. From then on it has exactly the workload's reach:
// /proc/self is its own, /proc/1 is hidden from it as from any workload, a file only root may read stays
// unreadable to a non-root image USER; on top of that, paths into the harness's control directory are
// refused. It costs one Node start (tens of ms) per operation, which a copy amortises.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { decodeFilesRequest, MAX_FILES_REPLY_BYTES, type FilesRequest } from '../../protocol/files.js';
import type { ErrorCode } from '../../protocol/messages.js';
import { HEADERS } from '../../protocol/routes.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../protocol/version.js';
import type { HarnessContext } from '../context.js';
import { DEFAULT_PATH } from '../exec.js';
import { log } from '../log.js';
import { effectiveIdentity } from '../process.js';
import { isOpen, sendError, sendJson } from '../respond.js';
import { resolveRunAs } from '../run-as.js';
import { FILE_ERROR_STATUS } from '../../file-tree/file-errors.js';
import { FILES_WORKER_FLAG } from './worker.js';

/** The worker's first line: a list of MAX_LIST_ITEMS entries with the longest paths stays below it. */
const MAX_ANSWER_BYTES = MAX_FILES_REPLY_BYTES;
/** RST_STREAM code telling the host that a read's data is incomplete. */
const NGHTTP2_INTERNAL_ERROR = 0x2;

/** This bundle, and the runtime around it (mounted at /.aegis in a machine; absent in host tests). */
const BUNDLE = fileURLToPath(import.meta.url);
const RUNTIME_DIR = path.dirname(path.dirname(BUNDLE));

/** How to start Node on this bundle: through the runtime's own loader in a machine, as it started the harness. */
function nodeCommand(): string[] {
  try {
    const { loader } = JSON.parse(fs.readFileSync(path.join(RUNTIME_DIR, 'runtime.json'), 'utf8')) as { loader: string };
    const lib = path.join(RUNTIME_DIR, 'lib');
    return [path.join(lib, loader), '--library-path', lib, path.join(RUNTIME_DIR, 'bin', 'node'), BUNDLE];
  } catch {
    return [process.execPath, BUNDLE];
  }
}

/** The harness's own places: the directory of its control socket, or its device. */
function reservedPaths(): string[] {
  const socket = process.env.AEGIS_CONTROL_SOCKET;
  return [socket ? path.dirname(path.resolve('/', socket)) : undefined, process.env.AEGIS_CONTROL_DEVICE].filter((p): p is string => !!p && p !== '/');
}

export async function handleFiles(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ctx: HarnessContext): Promise<void> {
  let req: FilesRequest;
  try {
    req = decodeFilesRequest(headers[HEADERS.files]);
  } catch (err) {
    stream.resume();
    return sendError(stream, 400, 'BAD_REQUEST', (err as Error).message);
  }
  if (ctx.shuttingDown) {
    stream.resume();
    return sendError(stream, 503, 'SHUTTING_DOWN', 'the machine is shutting down');
  }
  let identity: { uid?: number; gid?: number; home: string } = { home: '/root' };
  if (req.user !== undefined) {
    const resolved = resolveRunAs(req.user);
    if ('error' in resolved) {
      stream.resume();
      return sendError(stream, 400, 'BAD_REQUEST', `user ${JSON.stringify(req.user)}: ${resolved.error}`);
    }
    identity = resolved;
  }
  const [file, ...args] = nodeCommand();
  const root = effectiveIdentity();
  const runAs = { uid: identity.uid ?? process.geteuid!(), gid: identity.gid ?? process.getegid!() };
  const worker = spawn(file, [...args, FILES_WORKER_FLAG, JSON.stringify(req), JSON.stringify(reservedPaths()), JSON.stringify(runAs)], {
    env: { PATH: DEFAULT_PATH, HOME: identity.home },
    cwd: '/',
    ...root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  serveWorker(stream, worker, req);
}

function serveWorker(stream: ServerHttp2Stream, worker: ChildProcess, req: FilesRequest): void {
  const { stdin, stdout, stderr } = worker as ChildProcess & { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream };
  let finished = false;
  /** The body ended without the trailer: the worker was stopped and wrote nothing. */
  let cutOff = false;
  let diagnostics = '';
  stderr.on('data', (c: Buffer) => {
    if (diagnostics.length < 4096) diagnostics += c.toString('utf8');
  });
  (stdin as NodeJS.WritableStream & { on(e: 'error', f: () => void): void }).on('error', () => {}); // the worker refused the rest
  const exited = new Promise<number | null>((resolve) => {
    worker.once('error', (err) => {
      log(`files worker failed to start: ${err.message}`);
      resolve(null);
    });
    worker.once('exit', (code) => resolve(code));
  });
  // The host went away (or reset the stream) before the end: stop the worker; it removes its temp files.
  stream.once('close', () => {
    if (!finished) worker.kill('SIGTERM');
  });
  if (req.op === 'write') {
    // A reset stream also ends (Node pushes EOF on RST_STREAM, and a client's close() may end the body
    // cleanly before its reset): only a body followed by the host's trailer is the whole file, so the
    // worker's stdin ends then alone; otherwise the worker is stopped, and its temp file goes with it.
    let complete = false;
    stream.once('trailers', (trailers: IncomingHttpHeaders) => (complete = trailers[HEADERS.filesComplete] === '1'));
    stream.pipe(stdin, { end: false });
    stream.once('end', () => {
      if (complete) return stdin.end();
      cutOff = true;
      worker.kill('SIGTERM');
    });
  } else {
    stream.resume();
    stdin.end();
  }

  readAnswer(stdout).then(
    async ({ line, rest }) => {
      let answer: { ok?: unknown; error?: { code: ErrorCode; message: string } };
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        finished = true;
        worker.kill('SIGKILL');
        const code = await exited;
        return sendError(stream, 500, 'INTERNAL', `the file worker failed (exit ${code}): ${diagnostics.trim().split('\n').pop() ?? 'no output'}`);
      }
      if (answer.error) {
        finished = true;
        stream.unpipe(stdin);
        stream.resume();
        return sendError(stream, FILE_ERROR_STATUS[answer.error.code] ?? 500, answer.error.code, answer.error.message);
      }
      if (req.op !== 'read') {
        finished = true;
        return sendJson(stream, 200, answer.ok);
      }
      if (!isOpen(stream)) return;
      stream.respond({
        ':status': 200,
        'content-type': 'application/octet-stream',
        [HEADERS.filesMeta]: Buffer.from(JSON.stringify(answer.ok)).toString('base64url'),
        [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
      });
      if (rest.length > 0) stream.write(rest);
      stdout.pipe(stream, { end: false });
      const code = await exited;
      await new Promise<void>((resolve) => (stdout as NodeJS.ReadableStream & { readableEnded: boolean }).readableEnded ? resolve() : stdout.once('end', () => resolve()));
      finished = true;
      if (code === 0) stream.end();
      else {
        log(`files read of ${req.path} failed (exit ${code}): ${diagnostics.trim()}`);
        stream.close(NGHTTP2_INTERNAL_ERROR);
      }
    },
    async () => {
      finished = true;
      const code = await exited;
      if (cutOff) return sendError(stream, 400, 'BAD_REQUEST', `the body ended without the ${HEADERS.filesComplete} trailer (cut off): nothing was written`);
      sendError(stream, 500, 'INTERNAL', `the file worker ended without an answer (exit ${code}): ${diagnostics.trim().split('\n').pop() ?? ''}`);
    },
  );
}

/** Reads the worker's first line (bounded); resolves with it and whatever came after it. */
function readAnswer(stdout: NodeJS.ReadableStream): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) finish(new Error('answer too long'));
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      stdout.pause();
      cleanup();
      resolve({ line: Buffer.concat(chunks).toString('utf8'), rest: chunk.subarray(nl + 1) });
    };
    const onEnd = (): void => finish(new Error('no answer'));
    const finish = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      stdout.off('data', onData);
      stdout.off('end', onEnd);
    };
    stdout.on('data', onData);
    stdout.once('end', onEnd);
  });
}
