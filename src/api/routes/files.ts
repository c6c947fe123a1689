// File endpoints (FILES-CONTRACT.md), for a serving instance and for a running task's machine:
//   GET    …/files?path=ABS[&maxBytes=N][&mask=1]   a file's bytes (x-aegis-mode, x-aegis-mtime;
//                                          x-aegis-truncated when maxBytes cut it; with mask the machine's
//                                          secret values as `***`, as exec's mask does) or a directory as tar
//   PUT    …/files?path=ABS[&mode=644][&mtime=MS]   octet-stream: the file; x-tar: extracted into ABS
//   GET    …/files/stat?path=ABS     GET …/files/list?path=ABS     DELETE …/files?path=ABS[&recursive=1]
//   GET    …/files/watch?path=ABS    not supported (501)
// under /v1/instances/:id (an instance or app name, as exec takes; a paused instance wakes) and
// /v1/tasks/:id. Every route takes timeoutMs. Bodies stream both ways; nothing is buffered whole.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { conflict, invalid, notSupported } from '../../errors/codes.js';
import { guestPathProblem, parseModeText } from '../../protocol/files.js';
import { MachineFiles } from '../../lifecycle/machine-files.js';
import type { TaskSpec, TaskStatus } from '../../resources/task.js';
import type { ApiServices } from '../services.js';
import { listReply } from '../reply-schemas.js';
import { flag, idParams } from '../request-schemas.js';
import { route } from '../route.js';
import { findInstance } from './instances.js';

/** Default limit of a transfer (a read or write) and of the other operations. */
export const DEFAULT_TRANSFER_TIMEOUT_MS = 60 * 60_000;
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 24 * 60 * 60_000;

const TAR = 'application/x-tar';

const digits = (max: number, rule: string) => {
  const pattern = new RegExp(`^\\d{1,${max}}$`);
  return z.string().refine((v) => pattern.test(v), { error: (i) => `${rule}, got "${String(i.input)}"` }).transform(Number);
};

const path = z.unknown().superRefine((v, ctx) => {
  const problem = guestPathProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}).transform((v) => v as string);

const timeoutMs = digits(9, `an integer from 1 to ${MAX_TIMEOUT_MS}`).refine((n) => n >= 1 && n <= MAX_TIMEOUT_MS, { error: `an integer from 1 to ${MAX_TIMEOUT_MS}` }).optional();

/** Every files route's query: the guest path, and what the operation takes. */
const filesQuery = z.strictObject({
  path,
  timeoutMs,
  mode: z.string().refine((v) => parseModeText(v) !== undefined, { error: (i) => `octal permission bits such as 644, got "${String(i.input)}"` }).transform((v) => parseModeText(v) as number).optional(),
  mtime: digits(15, 'milliseconds since the epoch').optional(),
  maxBytes: digits(15, 'a number of bytes').optional(),
  recursive: flag,
  mask: flag,
});

const statReply = z.strictObject({
  path: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'other']),
  size: z.number().nonnegative(),
  mode: z.string(),
  mtime: z.number(),
  target: z.string().optional(),
});

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
    const contract = { params: idParams, query: filesQuery };
    route(app, {
      method: 'GET',
      url: prefix,
      ...contract,
      replies: {},
      streams: 'application/octet-stream',
      handler: async ({ params, query, reply }) => {
        const { maxBytes, mask } = query;
        const { meta, body } = await files(params.id).read(query.path, {
          timeoutMs: query.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS,
          signal: clientGone(reply),
          ...(maxBytes !== undefined ? { maxBytes } : {}),
          ...(mask ? { mask } : {}),
        });
        reply.raw.once('close', () => body.destroy());
        reply.header('x-aegis-type', meta.type).header('x-aegis-mode', meta.mode).header('x-aegis-mtime', String(meta.mtime));
        // maxBytes cut the file: the header says by how much (the body is its first bytes).
        if (meta.truncated) reply.header('x-aegis-truncated', String(meta.truncated));
        // A masked body's length is known only at its end (`***` is shorter than a value).
        if (meta.type === 'file' && !mask) reply.header('content-length', String(meta.size - (meta.truncated ?? 0)));
        return reply.type(meta.type === 'file' ? 'application/octet-stream' : TAR).send(body);
      },
    });

    route(app, {
      method: 'PUT',
      url: prefix,
      ...contract,
      replies: { 200: z.strictObject({ path: z.string(), bytes: z.number().nonnegative() }) },
      handler: async ({ params, query, req, reply }) => {
        const type = String(req.headers['content-type'] ?? '');
        const tar = type.startsWith(TAR);
        if (!tar && !type.startsWith('application/octet-stream')) throw invalid(`the body must be application/octet-stream (a file) or ${TAR} (a directory), got "${type || 'none'}"`);
        const { mode, mtime } = query;
        if (tar && (mode !== undefined || mtime !== undefined)) throw invalid('mode and mtime apply to a file; a tar stream carries its own');
        return files(params.id).write(query.path, req.body as Readable, {
          timeoutMs: query.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS,
          signal: clientGone(reply),
          ...(tar ? { tar } : {}),
          ...(mode !== undefined ? { mode } : {}),
          ...(mtime !== undefined ? { mtime } : {}),
        });
      },
    });

    const call = (query: z.output<typeof filesQuery>, reply: FastifyReply) => ({ timeoutMs: query.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, signal: clientGone(reply) });

    route(app, {
      method: 'GET',
      url: `${prefix}/stat`,
      ...contract,
      replies: { 200: statReply },
      handler: async ({ params, query, reply }) => files(params.id).stat(query.path, call(query, reply)),
    });

    route(app, {
      method: 'GET',
      url: `${prefix}/list`,
      ...contract,
      replies: { 200: listReply(statReply) },
      handler: async ({ params, query, reply }) => files(params.id).list(query.path, call(query, reply)),
    });

    route(app, {
      method: 'DELETE',
      url: prefix,
      ...contract,
      replies: { 200: z.strictObject({ path: z.string(), deleted: z.literal(true) }) },
      handler: async ({ params, query, reply }) => files(params.id).remove(query.path, query.recursive, call(query, reply)),
    });

    // Watching needs a long-lived worker per watch and recursive inotify in the guest: not offered yet.
    route(app, {
      method: 'GET',
      url: `${prefix}/watch`,
      replies: {},
      handler: async () => {
        throw notSupported('watching files is not supported yet');
      },
    });
  }
}
