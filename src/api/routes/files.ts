// File endpoints (FILES-CONTRACT.md), for a serving instance and for a running task's machine:
//   GET    …/files?path=ABS[&maxBytes=N]   a file's bytes (x-aegis-mode, x-aegis-mtime; x-aegis-truncated
//                                          when maxBytes cut it) or a directory as tar
//   PUT    …/files?path=ABS[&mode=644][&mtime=MS]   octet-stream: the file; x-tar: extracted into ABS
//   GET    …/files/stat?path=ABS     GET …/files/list?path=ABS     DELETE …/files?path=ABS[&recursive=1]
//   GET    …/files/watch?path=ABS    not supported (501)
// under /v1/instances/:id (an instance or app name, as exec takes; a paused instance wakes) and
// /v1/tasks/:id. Every route takes timeoutMs. Bodies stream both ways; nothing is buffered whole.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { conflict, invalid, notSupported } from '../../errors/codes.js';
import { guestPathProblem, parseModeText } from '../../protocol/files.js';
import { MachineFiles } from '../../lifecycle/machine-files.js';
import type { TaskSpec, TaskStatus } from '../../resources/task.js';
import type { ApiServices } from '../services.js';
import { findInstance } from './instances.js';

/** Default limit of a transfer (a read or write) and of the other operations. */
export const DEFAULT_TRANSFER_TIMEOUT_MS = 60 * 60_000;
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 24 * 60 * 60_000;

interface IdParams { id: string }
interface FilesQuery { path?: string; timeoutMs?: string; mode?: string; mtime?: string; recursive?: string; maxBytes?: string }
type FilesRequest = FastifyRequest<{ Params: IdParams; Querystring: FilesQuery }>;

const TAR = 'application/x-tar';

function guestPath(q: FilesQuery): string {
  const problem = guestPathProblem(q.path);
  if (problem) throw invalid(`path ${problem}`);
  return q.path as string;
}

function timeoutOf(q: FilesQuery, fallback: number): number {
  if (q.timeoutMs === undefined) return fallback;
  const n = Number(q.timeoutMs);
  if (!/^\d{1,9}$/.test(q.timeoutMs) || n < 1 || n > MAX_TIMEOUT_MS) throw invalid(`timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}, got "${q.timeoutMs}"`);
  return n;
}

function modeOf(q: FilesQuery): number | undefined {
  if (q.mode === undefined) return undefined;
  const mode = parseModeText(q.mode);
  if (mode === undefined) throw invalid(`mode must be octal permission bits such as 644, got "${q.mode}"`);
  return mode;
}

function maxBytesOf(q: FilesQuery): number | undefined {
  if (q.maxBytes === undefined) return undefined;
  if (!/^\d{1,15}$/.test(q.maxBytes)) throw invalid(`maxBytes must be a number of bytes, got "${q.maxBytes}"`);
  return Number(q.maxBytes);
}

function mtimeOf(q: FilesQuery): number | undefined {
  if (q.mtime === undefined) return undefined;
  if (!/^\d{1,15}$/.test(q.mtime)) throw invalid(`mtime must be milliseconds since the epoch, got "${q.mtime}"`);
  return Number(q.mtime);
}

/** Aborted when the client goes away before the reply is complete. */
function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export function fileRoutes(app: FastifyInstance, s: ApiServices): void {
  // A tar body is the request stream itself (application/octet-stream is registered with exec's routes).
  app.addContentTypeParser(TAR, (_req, payload, done) => done(null, payload));

  const scopes: { prefix: string; files: (id: string) => MachineFiles }[] = [
    {
      prefix: '/v1/instances/:id/files',
      files: (id) => s.lifecycle.instances.files(findInstance(s, id).metadata.uid, id),
    },
    {
      prefix: '/v1/tasks/:id/files',
      files: (id) => {
        const task = s.store.mustGet<TaskSpec, TaskStatus>('Task', id);
        const uid = task.metadata.uid;
        const machines = s.lifecycle.taskMachines;
        const phase = task.status.phase;
        if ((phase === 'Succeeded' || phase === 'Failed') && !machines.isRunning(uid)) {
          throw conflict(`task ${id} has finished and its machine is gone (keep it for files with: aegis run --artifacts)`);
        }
        return new MachineFiles(machines.target(uid, `task ${id}`));
      },
    },
  ];

  for (const { prefix, files } of scopes) {
    app.get(prefix, async (req: FilesRequest, reply) => {
      const path = guestPath(req.query);
      const maxBytes = maxBytesOf(req.query);
      const { meta, body } = await files(req.params.id).read(path, { timeoutMs: timeoutOf(req.query, DEFAULT_TRANSFER_TIMEOUT_MS), signal: clientGone(reply), ...(maxBytes !== undefined ? { maxBytes } : {}) });
      reply.raw.once('close', () => body.destroy());
      reply.header('x-aegis-type', meta.type).header('x-aegis-mode', meta.mode).header('x-aegis-mtime', String(meta.mtime));
      // maxBytes cut the file: the header says by how much (the body is its first bytes).
      if (meta.truncated) reply.header('x-aegis-truncated', String(meta.truncated));
      if (meta.type === 'file') reply.header('content-length', String(meta.size - (meta.truncated ?? 0)));
      return reply.type(meta.type === 'file' ? 'application/octet-stream' : TAR).send(body);
    });

    app.put(prefix, async (req: FilesRequest, reply) => {
      const path = guestPath(req.query);
      const type = String(req.headers['content-type'] ?? '');
      const tar = type.startsWith(TAR);
      if (!tar && !type.startsWith('application/octet-stream')) throw invalid(`the body must be application/octet-stream (a file) or ${TAR} (a directory), got "${type || 'none'}"`);
      const mode = modeOf(req.query);
      const mtime = mtimeOf(req.query);
      if (tar && (mode !== undefined || mtime !== undefined)) throw invalid('mode and mtime apply to a file; a tar stream carries its own');
      return files(req.params.id).write(path, req.body as Readable, {
        timeoutMs: timeoutOf(req.query, DEFAULT_TRANSFER_TIMEOUT_MS),
        signal: clientGone(reply),
        ...(tar ? { tar } : {}),
        ...(mode !== undefined ? { mode } : {}),
        ...(mtime !== undefined ? { mtime } : {}),
      });
    });

    app.get(`${prefix}/stat`, async (req: FilesRequest, reply) => files(req.params.id).stat(guestPath(req.query), { timeoutMs: timeoutOf(req.query, DEFAULT_CALL_TIMEOUT_MS), signal: clientGone(reply) }));

    app.get(`${prefix}/list`, async (req: FilesRequest, reply) => files(req.params.id).list(guestPath(req.query), { timeoutMs: timeoutOf(req.query, DEFAULT_CALL_TIMEOUT_MS), signal: clientGone(reply) }));

    app.delete(prefix, async (req: FilesRequest, reply) => {
      const recursive = req.query.recursive === '1' || req.query.recursive === 'true';
      return files(req.params.id).remove(guestPath(req.query), recursive, { timeoutMs: timeoutOf(req.query, DEFAULT_CALL_TIMEOUT_MS), signal: clientGone(reply) });
    });

    // Watching needs a long-lived worker per watch and recursive inotify in the guest: not offered yet.
    app.get(`${prefix}/watch`, async () => {
      throw notSupported('watching files is not supported yet');
    });
  }
}
