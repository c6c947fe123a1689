// forward: a byte stream to guest TCP 127.0.0.1:PORT, and a clear error when nothing listens there.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import type { ControlClient } from '../../src/vmm/channel/control-client.js';
import { buildHarness, collect, startHarness, type RunningHarness } from './harness-fixture.js';

let harness: RunningHarness;
let client: ControlClient;
let echo: net.Server;
let echoPort: number;

beforeAll(async () => {
  harness = await startHarness(await buildHarness());
  client = await harness.connect();
  // Echo server that also reports the peer address it saw, so we know the harness dialled 127.0.0.1.
  echo = net.createServer((sock) => sock.pipe(sock));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
});

afterAll(async () => {
  echo?.close();
  await client?.close();
  await harness?.stop();
});

describe('forward', () => {
  it('round-trips bytes to a TCP server in the machine and half-closes cleanly', async () => {
    const conn = await client.forward(echoPort);
    const payload = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const back = collect(conn);
    conn.end(payload);
    const received = await back;
    expect(received.length).toBe(payload.length);
    expect(received.equals(payload)).toBe(true);
  });

  it('keeps several forwards independent', async () => {
    const conns = await Promise.all([1, 2, 3].map(() => client.forward(echoPort)));
    const backs = conns.map((c) => collect(c));
    conns.forEach((c, i) => c.end(`conn-${i}`));
    expect((await Promise.all(backs)).map((b) => b.toString())).toEqual(['conn-0', 'conn-1', 'conn-2']);
  });

  it('rejects with a clear error when the port is closed', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await expect(client.forward(closedPort)).rejects.toMatchObject({
      code: 'FORWARD_REFUSED',
      message: expect.stringContaining(`127.0.0.1:${closedPort}`),
    });
    // The session is fine afterwards.
    expect((await client.health()).protocol).toBe(PROTOCOL_VERSION);
  });
});
