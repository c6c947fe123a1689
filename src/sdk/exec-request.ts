// The exec API's request as it goes over the wire: POST /v1/instances/{target}/exec with the request as the
// JSON body or, with stdin, the input streamed as the body and the request in the `x-aegis-exec` header.
// The SDK and the CLI's quick exec (src/cli/quick-exec.ts) both send it this way.
import type { RawExit } from './execution.js';

export interface ExecRequest {
  command: string[];
  env?: Record<string, string>;
  workdir?: string;
  user?: string;
  mask?: boolean;
}

export function execPath(target: string): string {
  return `/v1/instances/${encodeURIComponent(target)}/exec`;
}

/**
 * The headers of an exec whose body is its stdin. The request's JSON is sent as ASCII (`\u` escapes), since a
 * header cannot carry other characters (node:http refused an exec of `echo 中` outright).
 */
export function execStdinHeaders(request: ExecRequest): Record<string, string> {
  const ascii = JSON.stringify(request).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return { 'content-type': 'application/octet-stream', 'x-aegis-exec': ascii };
}

/** What an exec ended with when its stream closed without an exit record. */
export const EXEC_WITHOUT_EXIT: RawExit = { code: null, signal: null, reason: 'MachineLost', message: 'the daemon ended the exec without an exit status' };
