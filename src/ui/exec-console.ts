// The dashboard's exec console over plain HTTP/1.1 (no WebSocket library in the daemon): POST /ui/exec starts
// a command in an instance and answers with its output as NDJSON (the exec API's own stream, read by the
// page as it comes); the session id in its `x-aegis-session` header names it for POST /ui/exec/{id}/input
// (keystrokes, as raw bytes, in order), POST /ui/exec/{id}/resize and DELETE /ui/exec/{id}. Asked with a
// size, the command runs on a pseudo-terminal in the guest (the harness opens it: see src/harness/pty.ts),
// and `x-aegis-tty: 1` says so; without one it reads a pipe. It ends when the page closes the output stream.
import crypto from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { invalid, notFound } from '../errors/codes.js';
import type { ApiServices } from '../api/services.js';
import { findInstance } from '../api/routes/instances.js';
import { isTerminalSize, MAX_TERMINAL_SIDE } from '../protocol/messages.js';

/** What the console runs unless asked otherwise: a shell (on a pipe, told it is interactive so it prompts). */
const DEFAULT_COMMAND = { tty: ['sh'], pipe: ['sh', '-i'] };
/** Input a session may have waiting before the command reads it; more is refused (a stuck shell). */
const MAX_PENDING_INPUT = 1024 * 1024;
/** Keystrokes and pastes come in small posts. */
const MAX_INPUT_POST = 64 * 1024;

interface Session {
  stdin: PassThrough;
  cancel(): void;
  resize(cols: number, rows: number): Promise<void>;
}

export function execConsoleRoutes(app: FastifyInstance, s: ApiServices): void {
  const sessions = new Map<string, Session>();

  app.post<{ Body: { instance?: unknown; command?: unknown; cols?: unknown; rows?: unknown } }>('/ui/exec', async (req, reply) => {
    const body = req.body ?? {};
    if (typeof body.instance !== 'string') throw invalid('"instance" must name the instance');
    const size = body.cols === undefined && body.rows === undefined ? undefined : { cols: body.cols, rows: body.rows };
    if (size !== undefined && !isTerminalSize(size)) throw invalid(`"cols" and "rows" must be whole numbers 1..${MAX_TERMINAL_SIDE}`);
    const command = body.command ?? (size ? DEFAULT_COMMAND.tty : DEFAULT_COMMAND.pipe);
    if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) throw invalid('"command" must be a non-empty array of strings');
    const inst = findInstance(s, body.instance);
    const stdin = new PassThrough();
    const env: Record<string, string> = size ? { TERM: 'xterm-256color' } : { TERM: 'dumb', PS1: '$ ' };
    const exec = await s.lifecycle.instances.exec(inst.metadata.uid, { argv: command as string[], env, stdin, ...(size ? { tty: size } : {}) });
    const id = crypto.randomBytes(12).toString('base64url');
    sessions.set(id, { stdin, cancel: exec.cancel, resize: exec.resize });
    const end = () => {
      if (!sessions.delete(id)) return;
      stdin.end();
      exec.cancel();
    };
    exec.output.on('end', () => sessions.delete(id));
    reply.raw.on('close', end);
    return reply.header('x-aegis-session', id).header('x-aegis-tty', size ? '1' : '0').type('application/x-ndjson').send(exec.output);
  });

  // application/octet-stream bodies arrive as streams (the exec API's parser, registered on the same server).
  app.post<{ Params: { id: string }; Body: Readable }>('/ui/exec/:id/input', async (req) => {
    const session = sessions.get(req.params.id);
    if (!session) throw notFound('no such console session (it ended)');
    if (!req.headers['content-type']?.startsWith('application/octet-stream')) throw invalid('input must be sent as application/octet-stream');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_INPUT_POST) throw invalid(`one input post may carry at most ${MAX_INPUT_POST} bytes`);
      chunks.push(chunk);
    }
    if (session.stdin.writableLength > MAX_PENDING_INPUT) throw invalid('the command is not reading its input');
    session.stdin.write(Buffer.concat(chunks));
    return { ok: true };
  });

  app.post<{ Params: { id: string }; Body: { cols?: unknown; rows?: unknown } }>('/ui/exec/:id/resize', async (req) => {
    const session = sessions.get(req.params.id);
    if (!session) throw notFound('no such console session (it ended)');
    const size = { cols: req.body?.cols, rows: req.body?.rows };
    if (!isTerminalSize(size)) throw invalid(`"cols" and "rows" must be whole numbers 1..${MAX_TERMINAL_SIDE}`);
    await session.resize(size.cols, size.rows);
    return { ok: true };
  });

  app.delete<{ Params: { id: string } }>('/ui/exec/:id', async (req) => {
    const session = sessions.get(req.params.id);
    if (!session) throw notFound('no such console session (it ended)');
    sessions.delete(req.params.id);
    session.stdin.end();
    session.cancel();
    return { ok: true };
  });
}
