// What every route handler of the harness gets: the process table and the machine-wide state.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ProcessTable } from './process.js';

export interface HarnessContext {
  readonly procs: ProcessTable;
  readonly startedAt: number;
  /** Aegis version the bundle was built from. */
  readonly version: string;
  /** Default time children get between SIGTERM and SIGKILL. */
  readonly shutdownGraceMs: number;
  /** The harness's own places (its control socket's directory, or its device): file operations refuse them. */
  readonly ownPaths: string[];
  /** Set once shutdown began: new execs are refused. */
  shuttingDown: boolean;
  /** Stops the control server and exits the harness process with `code`. */
  exit(code: number): void;
}

export type RouteHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ctx: HarnessContext) => void | Promise<void>;
