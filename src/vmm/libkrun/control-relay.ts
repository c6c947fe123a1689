// The host end of the guest's control port, served by the worker: aegisd connects to the machine's
// control.sock, and the bytes go to and from the worker's end of the port (a socketpair whose other end
// libkrun owns). One host connection at a time: a new one (a restarted daemon) replaces the old. What the
// guest writes while nobody is connected is dropped, as the port handshake (HELLO/READY, see
// src/protocol/port-sync.ts) makes each new session discard what came before it anyway.
import fs from 'node:fs';
import net from 'node:net';

export function serveControlPort(socketPath: string, portFd: number): Promise<net.Server> {
  const port = new net.Socket({ fd: portFd, readable: true, writable: true });
  let client: net.Socket | undefined;
  port.on('data', (chunk: Buffer) => {
    if (!client) return;
    // The host reads slower than the guest writes: hold the port (and so the guest) until it catches up.
    if (!client.write(chunk)) port.pause();
  });
  port.on('error', () => undefined);
  const server = net.createServer((conn) => {
    client?.destroy();
    client = conn;
    port.resume();
    conn.on('data', (chunk: Buffer) => {
      if (!port.write(chunk)) conn.pause();
    });
    conn.on('drain', () => port.resume());
    const drop = () => {
      if (client !== conn) return;
      client = undefined;
      port.resume();
    };
    conn.on('close', drop);
    conn.on('error', drop);
  });
  port.on('drain', () => client?.resume());
  fs.rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
