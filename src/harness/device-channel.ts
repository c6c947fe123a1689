// Serves the control protocol over a character device (a qemu virtio-serial port) instead of a socket.
// A port is one byte stream that outlives host connections: read() returns 0 while no host end is
// attached, so every host connection becomes a fresh Duplex (and HTTP/2 session) that ends at that EOF,
// or at the next host's HELLO when a reconnect was too quick to see (src/protocol/port-sync.ts).
// net.Socket cannot wrap a char device, so reads and writes go through fs on one O_RDWR descriptor.
import fs from 'node:fs';
import { Duplex } from 'node:stream';
import { parsePortHello, portReadyLine } from '../protocol/port-sync.js';
import { log } from './log.js';

/** How often to look again while no host is attached (reads return EOF at once then). */
const IDLE_POLL_MS = 20;
const READ_CHUNK = 64 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes to the port one at a time, in order, across connections: a write issued after the host left
 * blocks until the next host comes, and it must reach that host before the new session's READY line
 * (which the host then discards it with), never after. Writes of a connection that ended are dropped.
 */
class PortWriter {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly fd: number) {}

  write(chunk: Buffer, conn: PortConnection): Promise<void> {
    const next = this.tail.then(() => (conn.destroyed ? undefined : writeAll(this.fd, chunk)));
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** One host connection over the port: reads are pushed by the loop below, writes go through the PortWriter. */
class PortConnection extends Duplex {
  constructor(private readonly writer: PortWriter) {
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    // Data is pushed by serveDevice's read loop; backpressure is not needed for a control session.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writer.write(chunk, this).then(() => done(), done);
  }
}

async function writeAll(fd: number, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    off += await new Promise<number>((resolve, reject) => fs.write(fd, chunk, off, chunk.length - off, null, (err, n) => (err ? reject(err) : resolve(n))));
  }
}

function readSome(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))));
}

export interface DeviceChannel {
  /**
   * Resolves once everything written so far has reached the device (or after `timeoutMs`). Writes are
   * asynchronous, unlike a socket's, so a reply sent just before process.exit would be lost without it.
   */
  drain(timeoutMs: number): Promise<void>;
}

/** Opens `device` and hands each host connection to `accept` as a Duplex; runs until the process exits. */
export async function serveDevice(device: string, accept: (conn: Duplex) => void): Promise<DeviceChannel> {
  const fd = fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  const writer = new PortWriter(fd);
  let conn: PortConnection | undefined;
  const endConnection = () => {
    if (!conn) return;
    conn.push(null);
    conn.destroy();
    conn = undefined;
  };
  void (async () => {
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      let n: number;
      try {
        n = await readSome(fd, buf);
      } catch (err) {
        log(`control device read: ${(err as Error).message}`);
        n = 0;
      }
      if (n > 0) {
        let data: Buffer = buf.subarray(0, n);
        const hello = parsePortHello(data);
        if (hello) {
          // A host (re)connected: the session we had is over, even if its EOF was never seen.
          endConnection();
          conn = new PortConnection(writer);
          conn.write(portReadyLine(hello.nonce));
          accept(conn);
          data = hello.rest;
        } else if (!conn || conn.destroyed) {
          conn = new PortConnection(writer);
          accept(conn);
        }
        if (data.length) conn.push(data);
        continue;
      }
      // EOF: the host end went away (or never came); the session over it is over.
      endConnection();
      await sleep(IDLE_POLL_MS);
    }
  })();
  return {
    async drain(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (conn && !conn.destroyed && conn.writableLength > 0 && Date.now() < deadline) await sleep(5);
    },
  };
}
