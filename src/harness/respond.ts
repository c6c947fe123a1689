// Small helpers for replying on an HTTP/2 stream: JSON bodies, protocol errors, bounded JSON request bodies.
import type { ServerHttp2Stream } from 'node:http2';
import type { ErrorCode, ErrorResponse } from '../protocol/messages.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../protocol/version.js';

/** Largest JSON request body the harness reads. */
const MAX_JSON_BODY = 1024 * 1024;

export function isOpen(stream: ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed;
}

export function sendJson(stream: ServerHttp2Stream, status: number, body: unknown): void {
  if (!isOpen(stream) || stream.headersSent) return;
  stream.respond({ ':status': status, 'content-type': 'application/json', [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) });
  stream.end(JSON.stringify(body));
}

export function sendError(stream: ServerHttp2Stream, status: number, code: ErrorCode, message: string): void {
  const body: ErrorResponse = { code, message };
  sendJson(stream, status, body);
}

/** Thrown by readJson for a body that is too big or not JSON. */
export class BadRequestError extends Error {}

/** Reads the request body as JSON (undefined when empty). */
export function readJson(stream: ServerHttp2Stream): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_JSON_BODY) {
        stream.pause();
        reject(new BadRequestError(`request body exceeds ${MAX_JSON_BODY} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new BadRequestError('request body is not valid JSON'));
      }
    });
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('stream closed')));
  });
}
