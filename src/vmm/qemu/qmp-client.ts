// A tiny QMP client: JSON lines over the machine's QMP unix socket. One short connection per command
// (greeting, qmp_capabilities, the command), so a restarted daemon needs no session state to resume.
import net from 'node:net';
import { tryConnect } from '../process-util.js';

const DEFAULT_TIMEOUT_MS = 5_000;

export class QmpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QmpError';
  }
}

/** Runs one QMP command and resolves with its `return` value. */
export function qmpExecute<T = unknown>(socketPath: string, command: string, args?: Record<string, unknown>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buffered = '';
    // 0: waiting for the greeting; 1: for the capabilities reply; 2: for the command's reply.
    let phase = 0;
    const finish = (err: Error | undefined, value?: T) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(() => finish(new QmpError(`qmp ${command}: no answer within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', (err) => finish(new QmpError(`qmp ${command}: ${err.message}`)));
    sock.on('close', () => finish(new QmpError(`qmp ${command}: connection closed`)));
    sock.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { class: string; desc: string }; event?: string };
        if (msg.event) continue; // asynchronous events (STOP, RESUME, POWERDOWN...) are not replies
        if (msg.error) return finish(new QmpError(`qmp ${command}: ${msg.error.desc}`));
        if (phase === 0 && msg.QMP) {
          phase = 1;
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (phase === 1 && 'return' in msg) {
          phase = 2;
          sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
        } else if (phase === 2 && 'return' in msg) {
          return finish(undefined, msg.return as T);
        }
      }
    });
  });
}

/** `query-status`: whether the vCPUs run (`running`) or are stopped (`paused`, `shutdown`...). */
export async function qmpStatus(socketPath: string): Promise<{ running: boolean; status: string }> {
  return qmpExecute<{ running: boolean; status: string }>(socketPath, 'query-status');
}

/** Waits until qemu accepts on its QMP socket (it creates it a moment after starting). */
export async function waitForQmp(socketPath: string, exited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sock = await tryConnect(socketPath);
    if (sock) return void sock.destroy();
    if (exited()) throw new QmpError('qemu exited before it opened its QMP socket');
    if (Date.now() > deadline) throw new QmpError(`qemu did not open its QMP socket within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
