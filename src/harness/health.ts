// GET health: the harness's protocol version, identity and what it is running.
import os from 'node:os';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { HealthResponse } from '../protocol/messages.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { HarnessContext } from './context.js';
import { sendJson } from './respond.js';

export function healthOf(ctx: HarnessContext): HealthResponse {
  return {
    protocol: PROTOCOL_VERSION,
    harnessVersion: ctx.version,
    pid: process.pid,
    uptimeMs: Date.now() - ctx.startedAt,
    hostname: os.hostname(),
    execs: ctx.procs.running().map((p) => p.info()),
    main: ctx.procs.mainInfo(),
    zombies: ctx.procs.zombies(),
  };
}

export function handleHealth(stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, ctx: HarnessContext): void {
  stream.resume();
  sendJson(stream, 200, healthOf(ctx));
}
