import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenPort } from '../../src/router/port-listener.js';
import { connect, eventually, readUntil } from './client.js';
import { FakeDirectory, startTcpEcho } from './fake-directory.js';

let echo: { port: number; close(): Promise<void> };
beforeAll(async () => {
  echo = await startTcpEcho('guest');
});
afterAll(async () => {
  await echo.close();
});

describe('port listener', () => {
  it('pipes bytes to the guest port and counts the connection', async () => {
    const dir = new FakeDirectory();
    const app = dir.add('db', { 5432: echo.port, 80: 1 });
    const l = await listenPort(dir, app.target, 5432);
    try {
      const sock = await connect(l.port);
      sock.write('ping');
      expect(await readUntil(sock, 'guest:ping')).toBe('guest:ping');
      expect(dir.connects).toEqual([{ instance: 'i-db', port: 5432 }]);
      expect(dir.opened.get('i-db')).toBe(1);
      expect(dir.activities.get('i-db')).toBeGreaterThanOrEqual(1);
      sock.end();
      await eventually(() => dir.closed.get('i-db') === 1);
    } finally {
      await l.close();
    }
  });

  it('holds early bytes while the instance wakes, and keeps its port when reopened', async () => {
    const dir = new FakeDirectory();
    const app = dir.add('db', { 5432: echo.port }, { delayMs: 300 });
    const first = await listenPort(dir, app.target, 5432);
    const port = first.port;
    await first.close();
    const l = await listenPort(dir, app.target, 5432, { port });
    try {
      expect(l.port).toBe(port);
      const sock = await connect(l.port);
      sock.write('early');
      expect(await readUntil(sock, 'guest:early')).toBe('guest:early');
      sock.destroy();
    } finally {
      await l.close();
    }
  });

  it('closes the client connection when the wake fails', async () => {
    const dir = new FakeDirectory();
    const app = dir.add('db', { 5432: echo.port }, { fail: new Error('boot failed') });
    const l = await listenPort(dir, app.target, 5432);
    try {
      const sock = await connect(l.port);
      await new Promise((r) => sock.on('close', r));
      await eventually(() => dir.closed.get('i-db') === 1);
    } finally {
      await l.close();
    }
  });
});
