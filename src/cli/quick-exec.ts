// `aegis exec` in its common forms (quick-exec-args.ts) without the command parser or node:http: agents call it
// thousands of times a session, and loading those was a third of its time. One exec request on the daemon's
// socket (socket-http.ts); its output, exit code and error lines go through the same Execution and
// printExecution as the full command's. A command line it does not take, or no daemon to connect to, is left to
// the full command, which stays the reference; once the request is sent, the outcome is this path's to report.
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { AegisPaths } from '../config/paths.js';
import { EXEC_WITHOUT_EXIT, execPath, execStdinHeaders } from '../sdk/exec-request.js';
import { AegisConnectionLostError, apiErrorOf } from '../sdk/errors.js';
import { Execution, type OutputRecord } from '../sdk/execution.js';
import { printExecution } from './client/task-output.js';
import { sdkErrorText } from './output/sdk-error-text.js';
import { quickExecArgs, type QuickExecArgs } from './quick-exec-args.js';
import { connectSocket, readReply, readWhole, ReplyCutShort, sendRequest, streamBody } from './socket-http.js';

export interface QuickExecIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** The exec's exit code, or undefined when the full command is to run it. */
export async function quickExec(argv: string[], paths: AegisPaths, io: QuickExecIo): Promise<number | undefined> {
  const args = quickExecArgs(argv);
  if (!args) return undefined;
  const sock = await connectSocket(paths.socket);
  if (!sock) return undefined; // the full command reports that no daemon runs
  const path = execPath(args.target);
  const execution = new Execution({
    start: async () => undefined,
    open: async () => records(await send(sock, path, args, io), path),
    missingExit: async () => EXEC_WITHOUT_EXIT,
    cancel: async () => void sock.destroy(),
  });
  try {
    return await printExecution(execution, io.stdout, io.stderr);
  } catch (err) {
    const text = sdkErrorText(err);
    if (text === undefined) throw err;
    io.stderr.write(text);
    return 1;
  } finally {
    sock.destroy();
  }
}

/** Sends the exec and returns the body of its successful reply; an error reply throws the SDK's error for it. */
async function send(sock: Socket, path: string, { request, interactive }: QuickExecArgs, io: QuickExecIo): Promise<AsyncGenerator<Buffer>> {
  try {
    if (interactive) {
      sendRequest(sock, 'POST', path, { 'x-aegis-source': 'cli', ...execStdinHeaders(request), 'transfer-encoding': 'chunked' });
      // Only now: process.stdin is made on first use, and that costs (a file or /dev/null loads fs streams).
      streamBody(sock, io.stdin);
    } else sendRequest(sock, 'POST', path, { 'x-aegis-source': 'cli', 'content-type': 'application/json' }, Buffer.from(JSON.stringify(request)));
    const reply = await readReply(sock);
    if (reply.status >= 400) throw apiErrorOf(reply.status, (await readWhole(reply.body))!.toString('utf8'));
    return reply.body;
  } catch (err) {
    throw err instanceof ReplyCutShort ? new AegisConnectionLostError('POST', path) : err;
  }
}

/** The NDJSON records of the exec's output, one per line, as the SDK's transport reads them. */
async function* records(body: AsyncGenerator<Buffer>, path: string): AsyncGenerator<OutputRecord> {
  let pending: Buffer[] = [];
  try {
    for await (const part of body) {
      let from = 0;
      for (let nl = part.indexOf(10); nl >= 0; nl = part.indexOf(10, from)) {
        pending.push(part.subarray(from, nl));
        const line = Buffer.concat(pending).toString('utf8');
        pending = [];
        from = nl + 1;
        if (line.length > 0) yield JSON.parse(line) as OutputRecord;
      }
      if (from < part.length) pending.push(part.subarray(from));
    }
  } catch (err) {
    throw err instanceof ReplyCutShort ? new AegisConnectionLostError('POST', path) : err;
  }
  const rest = Buffer.concat(pending).toString('utf8');
  if (rest.trim().length > 0) yield JSON.parse(rest) as OutputRecord;
}
