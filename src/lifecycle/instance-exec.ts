// An exec in a serving instance: a paused instance resumes for it, a starting one is waited for, a stopped
// one is refused; the instance stays awake while the command runs. Its output streams back as NDJSON in the
// task log's format (so the CLI renders both alike) and is copied into the instance's log.
import crypto from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { conflict } from '../errors/codes.js';
import { chunkEntry } from '../logs/log-entry.js';
import type { InstanceRuntime } from './instance-runtime.js';

export interface InstanceExecRequest {
  argv: string[];
  /** Added to the server's environment (image env, secrets, env), which the command starts from. */
  env?: Record<string, string>;
  cwd?: string;
  /** Default: whom the server runs as (the spec's or the image's user). */
  user?: string;
  stdin?: Readable;
  /** Run on a terminal of this size in the guest (the dashboard's console): output comes as stdout only. */
  tty?: { cols: number; rows: number };
  /** Replace secret values in the output sent back with `***`, as the instance's log does (its copy is masked always). */
  mask?: boolean;
}

export interface InstanceExec {
  /** NDJSON: `{stream, data}` chunks, then one `{stream: "system", exec_id, exit}` line. */
  output: Readable;
  /** The client went away: the command is killed rather than left running unseen. */
  cancel(): void;
  /** A new size for its terminal (an exec with `tty`); rejects once it has exited. */
  resize(cols: number, rows: number): Promise<void>;
}

/** Starts `req` in the instance `uid` runs in `runtime` (undefined: this daemon does not run it). */
export async function execInInstance(uid: string, runtime: InstanceRuntime | undefined, req: InstanceExecRequest): Promise<InstanceExec> {
  const stopped = () => conflict(`instance ${uid} is stopped; it starts again on its next connection (or: aegis app serve)`);
  if (!runtime) throw stopped();
  const client = await runtime.wakeIfAlive();
  if (!client) throw stopped();
  const release = runtime.hold();
  const execId = `exec-${crypto.randomBytes(4).toString('hex')}`;
  const user = req.user ?? runtime.user;
  const handle = client.exec(
    {
      argv: req.argv,
      env: { ...runtime.env, ...(req.env ?? {}) },
      ...(req.cwd ? { cwd: req.cwd } : {}),
      ...(user ? { user } : {}),
      ...(req.tty ? { tty: req.tty } : {}),
      stdin: false,
    },
    req.stdin ? { stdin: req.stdin } : {},
  );
  // A slow reader pauses the command's output rather than buffering it here.
  const out = new PassThrough();
  let open = 2;
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = handle[name];
    const mask = req.mask ? runtime.log.outputMasker?.() : undefined;
    const send = (chunk: Buffer) => chunk.length === 0 || out.write(JSON.stringify(chunkEntry(name, chunk)) + '\n');
    stream.on('data', (chunk: Buffer) => {
      runtime.log.write(name, 'exec', chunk, execId);
      if (!send(mask ? mask.push(chunk) : chunk)) {
        stream.pause();
        out.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => {
      if (mask) send(mask.flush());
      if (--open > 0) return;
      void handle.exit.then((exit) => {
        release();
        // The seed's contract: an exec cut off by the instance stopping exits with -1.
        const record = exit.error ? { code: -1, signal: null, reason: 'InstanceStopped', message: exit.error } : exit;
        out.end(JSON.stringify({ ts: new Date().toISOString(), stream: 'system', exec_id: execId, exit: record }) + '\n');
      });
    });
  }
  return {
    output: out,
    cancel: () => void handle.execId.then((id) => client.signal(id, 'SIGKILL')).catch(() => undefined),
    resize: async (cols, rows) => client.resize(await handle.execId, cols, rows),
  };
}
