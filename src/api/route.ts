// A route's contract in one place: its params, query, body and replies as zod schemas. The helper parses the
// request before the handler runs (a bad one is one AEGIS_INVALID line naming the field, every problem in
// `issues`) and, on a server built to check replies (the tests), checks each JSON reply against the schema
// declared for its status. Streaming replies (NDJSON, octet-stream) are not buffered or checked.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { invalid } from '../errors/codes.js';
import { fromZodIssues, summarize, toFieldIssue, type PathSegment } from '../resources/issues.js';
import { errorReplySchema } from './reply-schemas.js';

type Schema = z.ZodType;
type Parsed<S> = S extends Schema ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
  req: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteContract<P extends Schema | undefined, Q extends Schema | undefined, B extends Schema | undefined> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  params?: P;
  query?: Q;
  body?: B;
  /** How a bad body is reported when not as `invalid request body`: a spec body as the store would (specBody). */
  bodyIssues?: { subject: string; path: PathSegment[] };
  /** The body to check when it is not the parsed JSON (exec with stdin: the request rides in a header). */
  bodyFrom?: (req: FastifyRequest) => unknown;
  /** The JSON reply by status code; error replies (4xx, 5xx) are the API's `{error, reason, issues?}`. */
  replies: Partial<Record<number, Schema>>;
  /** The content type of a streamed 200 reply, which is never buffered to be checked. */
  streams?: 'application/x-ndjson' | 'application/octet-stream' | 'application/x-tar';
  handler: (input: RouteInput<P, Q, B>) => Promise<unknown>;
}

/** Servers whose JSON replies are checked against their routes' schemas (see buildApi's `checkReplies`). */
const checking = new WeakSet<FastifyInstance>();

export function checkReplies(server: FastifyInstance): void {
  checking.add(server);
}

/** Registers one route under its contract. */
export function route<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined, B extends Schema | undefined = undefined>(
  app: FastifyInstance,
  contract: RouteContract<P, Q, B>,
): void {
  const { method, url, params, query, body, bodyIssues = { subject: 'invalid request body', path: [] }, bodyFrom, handler } = contract;
  app.route({
    method,
    url,
    // Where tools (and the test that every route has a contract) find it.
    config: { contract },
    handler: async (req, reply) =>
      handler({
        params: parse(params, req.params, 'invalid path parameter', []) as Parsed<P>,
        query: parse(query, req.query, 'invalid query parameter', []) as Parsed<Q>,
        body: parse(body, bodyFrom ? bodyFrom(req) : req.body, bodyIssues.subject, bodyIssues.path) as Parsed<B>,
        req,
        reply,
      }),
    ...(checking.has(app) ? { preSerialization: replyCheck(contract) } : {}),
  });
}

function parse(schema: Schema | undefined, value: unknown, subject: string, prefix: PathSegment[]): unknown {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  // A body that is not an object at all: say so, not zod's "Invalid input: expected object, received number".
  const issues = fromZodIssues(r.error.issues, prefix).map((i) => toFieldIssue(i.path.length === 0 && /expected object/.test(i.message) ? { ...i, message: 'must be a JSON object' } : i));
  throw invalid(summarize(subject, issues), issues);
}

/** Fails a reply its schema does not accept: names the route, status and paths, never the values. */
function replyCheck(contract: RouteContract<Schema | undefined, Schema | undefined, Schema | undefined>) {
  return async (_req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const status = reply.statusCode;
    const schema = status >= 400 ? errorReplySchema : contract.replies[status];
    const where = `${contract.method} ${contract.url} ${status}`;
    if (!schema) throw new ReplyContractError(`${where}: no reply schema for this status`);
    const r = schema.safeParse(payload);
    if (!r.success) throw new ReplyContractError(`${where}: reply does not match its schema at ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} (${i.code})`).join(', ')}`);
    return payload;
  };
}

/** A reply that breaks its route's contract: a daemon bug, reported as a 500. */
export class ReplyContractError extends Error {
  override name = 'ReplyContractError';
}
