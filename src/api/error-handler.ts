// One place that turns any thrown error into the API's `{error, reason}` reply with the right status.
import type { FastifyError, FastifyInstance } from 'fastify';
import { isAegisError, isDiskFull } from '../errors/codes.js';
import { ReplyContractError } from './route.js';

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isAegisError(err)) {
      const body: Record<string, unknown> = { error: err.message, reason: err.code };
      if (err.issues.length > 0) body.issues = err.issues;
      return reply.status(err.statusCode).send(body);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({ error: `request body is larger than the ${app.initialConfig.bodyLimit} byte limit`, reason: 'AEGIS_TOO_LARGE' });
    }
    // Fastify's own client errors (bad JSON, wrong content type, schema validation) are 4xx already.
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ error: err.message, reason: err.statusCode === 413 ? 'AEGIS_TOO_LARGE' : 'AEGIS_INVALID' });
    }
    // A full disk under a write the store did not already name: say which file.
    if (isDiskFull(err)) {
      const file = (err as NodeJS.ErrnoException).path;
      return reply.status(507).send({ error: `no space left on device${file ? ` writing ${file}` : ''}; free some space and retry`, reason: 'AEGIS_NO_SPACE' });
    }
    req.log.error({ err }, 'unhandled error');
    // Only servers that check replies (the tests) raise it; its message names paths, never values.
    if (err instanceof ReplyContractError) return reply.status(500).send({ error: err.message, reason: 'AEGIS_INTERNAL' });
    return reply.status(500).send({ error: 'internal error (see the daemon log)', reason: 'AEGIS_INTERNAL' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}`, reason: 'AEGIS_NOT_FOUND' });
  });
}
