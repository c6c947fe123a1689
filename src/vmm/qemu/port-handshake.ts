// Host side of the virtio-serial port handshake (src/protocol/port-sync.ts): say HELLO with a fresh
// nonce, drop whatever the port still held from an earlier session, and hand the stream over just after
// the guest's READY with that nonce.
import crypto from 'node:crypto';
import type net from 'node:net';
import { portHelloLine, portReadyLine } from '../../protocol/port-sync.js';

/** Stale bytes tolerated before the READY line: far more than a session's unsent tail can be. */
const MAX_STALE_BYTES = 4 * 1024 * 1024;

export function syncPort(socket: net.Socket, timeoutMs: number): Promise<net.Socket> {
  const nonce = crypto.randomBytes(12).toString('hex');
  const ready = portReadyLine(nonce);
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    let total = 0;
    const fail = (why: string) => {
      cleanup();
      socket.destroy();
      reject(new Error(`control port handshake failed: ${why}`));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      seen = Buffer.concat([seen, chunk]);
      const at = seen.indexOf(ready);
      if (at < 0) {
        if (total > MAX_STALE_BYTES) fail(`no READY after ${total} bytes`);
        // Keep only what could be the start of a READY split across reads.
        else seen = seen.subarray(Math.max(0, seen.length - ready.length));
        return;
      }
      cleanup();
      socket.pause();
      const rest = seen.subarray(at + ready.length);
      if (rest.length) socket.unshift(rest);
      resolve(socket);
    };
    const onClose = () => fail('the machine closed the connection');
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onClose);
    socket.write(portHelloLine(nonce));
  });
}

