// POST exec: start a process in the guest and stream its output back as frames, then its exit status.
import os from 'node:os';
import fs from 'node:fs';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { encodeFrame, encodeJsonFrame, FRAME_TYPES } from '../protocol/frames.js';
import {
  decodeExecRequest,
  MAX_EXEC_BODY_REQUEST_BYTES,
  parseExecRequestJson,
  type ExecExit,
  type ExecRequest,
} from '../protocol/messages.js';
import { FRAME_CONTENT_TYPE, HEADERS } from '../protocol/routes.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../protocol/version.js';
import { resolveCommand } from './command-path.js';
import { resolveRunAs, type RunAs } from './run-as.js';
import type { HarnessContext } from './context.js';
import type { TrackedProcess } from './process.js';
import { streamProcessFrames } from './process-stream.js';
import { isOpen, sendError } from './respond.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The child's environment: defaults, then exactly what the request gives. Never the harness's own env. */
export function childEnv(requested: Record<string, string>, home = '/root'): Record<string, string> {
  return { PATH: DEFAULT_PATH, HOME: home, HOSTNAME: os.hostname(), ...requested };
}

type Failure = { code: number; message: string };

interface Prepared {
  file: string;
  cwd: string;
  env: Record<string, string>;
  runAs?: RunAs;
}

/** Resolves the user, checks the cwd and finds the executable; a failure carries the shell's exit code and stderr line. */
function prepare(req: ExecRequest): Prepared | Failure {
  let runAs: RunAs | undefined;
  if (req.user !== undefined) {
    const resolved = resolveRunAs(req.user);
    if ('error' in resolved) return { code: 126, message: `aegis: user ${JSON.stringify(req.user)}: ${resolved.error}` };
    runAs = resolved;
  }
  const env = childEnv(req.env, runAs?.home);
  const cwd = req.cwd ?? '/';
  let isDir = false;
  try {
    isDir = fs.statSync(cwd).isDirectory();
  } catch {
    // missing
  }
  if (!isDir) return { code: 126, message: `aegis: ${cwd}: no such directory` };
  const argv0 = req.argv[0];
  const found = resolveCommand(argv0, env.PATH ?? DEFAULT_PATH, cwd);
  if (!found.ok) return { code: found.code, message: `aegis: ${argv0}: ${found.reason}` };
  return { file: found.file, cwd, env, ...(runAs ? { runAs } : {}) };
}

function spawnFailure(argv0: string, err: NodeJS.ErrnoException): Failure {
  if (err.code === 'ENOENT') return { code: 127, message: `aegis: ${argv0}: command not found` };
  if (err.code === 'EACCES') return { code: 126, message: `aegis: ${argv0}: permission denied` };
  if (err.code === 'E2BIG') return { code: 126, message: `aegis: ${argv0}: argument list or environment too long` };
  return { code: 126, message: `aegis: ${argv0}: cannot execute: ${err.code ?? err.message}` };
}

/**
 * Reads a big ExecRequest from the start of the body (`aegis-exec-length` bytes of JSON). Bytes past it
 * are put back on the stream: they are the beginning of stdin.
 */
function readExecRequestFromBody(stream: ServerHttp2Stream, lengthHeader: unknown): Promise<ExecRequest> {
  const length = typeof lengthHeader === 'string' && /^\d{1,9}$/.test(lengthHeader) ? Number(lengthHeader) : NaN;
  if (!(length > 0 && length <= MAX_EXEC_BODY_REQUEST_BYTES)) {
    return Promise.reject(new Error(`missing ${HEADERS.exec} header, or ${HEADERS.execLength} not in 1..${MAX_EXEC_BODY_REQUEST_BYTES}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size < length) return;
      stream.pause();
      cleanup();
      const all = Buffer.concat(chunks);
      if (all.length > length) stream.unshift(all.subarray(length));
      try {
        resolve(parseExecRequestJson(all.subarray(0, length)));
      } catch (err) {
        reject(err);
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`body ended after ${size} of ${length} exec request bytes`));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}

export async function handleExec(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ctx: HarnessContext): Promise<void> {
  let req: ExecRequest;
  try {
    req =
      headers[HEADERS.exec] !== undefined
        ? decodeExecRequest(headers[HEADERS.exec])
        : await readExecRequestFromBody(stream, headers[HEADERS.execLength]);
  } catch (err) {
    return sendError(stream, 400, 'BAD_REQUEST', (err as Error).message);
  }
  if (ctx.shuttingDown) return sendError(stream, 503, 'SHUTTING_DOWN', 'the machine is shutting down');
  const main = req.main === true;
  if (main && ctx.procs.mainRunning()) {
    return sendError(stream, 409, 'MAIN_RUNNING', `a main process is already running (${ctx.procs.mainInfo()?.execId})`);
  }

  const execId = ctx.procs.newExecId();
  const prepared = prepare(req);
  let proc: TrackedProcess | undefined;
  let failure: Failure | undefined;
  if ('file' in prepared) {
    const { file, env, cwd, runAs } = prepared;
    try {
      proc = await ctx.procs.spawn(execId, { file, argv: req.argv, env, cwd, stdin: req.stdin, main, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}), ...(req.tty ? { tty: req.tty } : {}) });
    } catch (err) {
      failure = spawnFailure(req.argv[0], err as NodeJS.ErrnoException);
    }
  } else {
    failure = prepared;
  }
  const failedExit: ExecExit | undefined = failure ? { code: failure.code, signal: null } : undefined;
  // Recorded even when the host is gone already: health and attach report it.
  if (main && failure && failedExit) ctx.procs.recordMainFailure(execId, failedExit, failure.message);

  if (!isOpen(stream)) {
    // The host gave up while we were spawning: a non-main process has nobody to report to.
    if (proc && !main) proc.signal('SIGKILL');
    return;
  }
  stream.respond({
    ':status': 200,
    'content-type': FRAME_CONTENT_TYPE,
    [HEADERS.execId]: execId,
    [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
  });

  if (!proc) {
    stream.resume(); // discard any stdin
    stream.write(encodeFrame(FRAME_TYPES.stderr, Buffer.from(`${(failure as Failure).message}\n`)));
    stream.end(encodeJsonFrame(FRAME_TYPES.exit, failedExit));
    return;
  }
  streamProcess(stream, proc, req.stdin);
}

/** Wires one running process to its exec stream: frames out, the request body into its stdin. */
function streamProcess(stream: ServerHttp2Stream, proc: TrackedProcess, stdin: boolean): void {
  const childStdin = proc.stdin;
  streamProcessFrames(stream, proc, {
    onFinished: () => {
      if (!childStdin) return;
      stream.unpipe(childStdin);
      childStdin.destroy();
    },
    // The host reset the stream or the connection dropped: an exec nobody watches is killed; the
    // main process lives on (a host finds it through health and gets its output again with attach).
    onAbandoned: () => {
      if (!proc.main) proc.signal('SIGKILL');
    },
  });
  // Input: the request body feeds the child's stdin (pipe() applies back-pressure to the stream). A
  // terminal's master is not ended with the input: it still carries the output (the command sees EOF as ^D).
  if (stdin && childStdin) {
    stream.pipe(childStdin, { end: !proc.pty });
  } else {
    stream.resume();
  }
}
