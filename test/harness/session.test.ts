// Session life: reconnects, lost connections, version negotiation, main process, shutdown and SIGTERM.
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { Duplex } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { ControlClient } from '../../src/vmm/channel/control-client.js';
import { buildHarness, pidAlive, run, startHarness, waitFor, type RunningHarness } from './harness-fixture.js';

let bundle: string;
const started: RunningHarness[] = [];

beforeAll(async () => {
  bundle = await buildHarness();
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

async function harness(): Promise<RunningHarness> {
  const h = await startHarness(bundle);
  started.push(h);
  return h;
}

describe('connections', () => {
  it('reports its identity and protocol in health', async () => {
    const h = await harness();
    const client = await h.connect();
    const health = await client.health();
    expect(health.protocol).toBe(PROTOCOL_VERSION);
    expect(health.pid).toBe(h.proc.pid);
    expect(health.hostname).toBe(os.hostname());
    expect(health.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(health.execs).toEqual([]);
    expect(health.main).toBeNull();
    expect(client.harness.protocol).toBe(PROTOCOL_VERSION);
    await client.close();
  });

  it("refuses to set the clock outside a VM: a sandbox's clock is the host's", async () => {
    const h = await harness();
    const client = await h.connect();
    await expect(client.setClock(Date.now())).rejects.toThrow(/host's clock/);
    await client.close();
  });

  it('serves a new connection after the first one was destroyed', async () => {
    const h = await harness();
    const socket = h.socket();
    const first = await ControlClient.connect(socket);
    expect((await run(first, ['echo', 'one'])).stdout.toString()).toBe('one\n');
    socket.destroy();
    await first.closed;
    expect(first.isClosed).toBe(true);

    const second = await h.connect();
    expect((await run(second, ['echo', 'two'])).stdout.toString()).toBe('two\n');
    await second.close();
  });

  it('resolves pending exits with an error when the connection is lost, and kills orphaned execs', async () => {
    const h = await harness();
    const socket = h.socket();
    const client = await ControlClient.connect(socket);
    const closeEvent = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const handles = [1, 2, 3].map(() => client.exec({ argv: ['sleep', '30'], env: {}, stdin: false }));
    const pids = await Promise.all(handles.map((x) => x.pid));
    socket.destroy();

    const exits = await Promise.all(handles.map((x) => x.exit));
    for (const exit of exits) expect(exit).toEqual({ code: null, signal: null, error: 'machine connection lost' });
    await closeEvent;
    // A non-main exec nobody can watch any more is killed by the harness.
    await waitFor(() => pids.every((pid) => !pidAlive(pid)), { what: 'orphaned execs to be killed' });

    // Calls on the dead session fail fast instead of hanging.
    await expect(client.health()).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    const late = client.exec({ argv: ['true'], env: {}, stdin: false });
    expect((await late.exit).error).toBe('machine connection lost');
  });

  it('refuses an incompatible protocol version with a clear error', async () => {
    const h = await harness();
    await expect(h.connect({ protocolVersion: PROTOCOL_VERSION + 1 })).rejects.toMatchObject({
      code: 'PROTOCOL_MISMATCH',
      message: `aegis control protocol mismatch: host speaks version ${PROTOCOL_VERSION + 1}, harness speaks version ${PROTOCOL_VERSION}; rebuild the harness bundle and restart the machine`,
    });
    // A request with no version header at all is refused too.
    const session = http2.connect('http://aegis-harness', { createConnection: () => net.connect(h.socketPath) });
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':method': 'GET', ':path': '/v1/health' });
      let body = '';
      let status = 0;
      req.on('response', (headers) => (status = Number(headers[':status'])));
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
    });
    session.destroy();
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'PROTOCOL_MISMATCH', message: expect.stringContaining('no version') });
  });

  it('works over a plain JS Duplex, as a virtio-serial port will be', async () => {
    const h = await harness();
    const socket = h.socket();
    // Not a net.Socket: Node's http2 then runs over its JS stream wrapper, whose event timing differs.
    const port = new Duplex({
      read: () => void socket.resume(),
      write: (chunk, _enc, cb) => void socket.write(chunk, cb),
      final: (cb) => void socket.end(cb),
      destroy: (err, cb) => {
        socket.destroy();
        cb(err);
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (!port.push(chunk)) socket.pause();
    });
    socket.on('end', () => port.push(null));
    socket.on('close', () => port.destroy());
    const client = await ControlClient.connect(port, { timeoutMs: 3000 });
    expect((await client.health()).protocol).toBe(PROTOCOL_VERSION);
    const { stdout, exit } = await run(client, ['sh', '-c', 'head -c 300000 /dev/zero; exit 3']);
    expect(stdout.length).toBe(300_000);
    expect(exit.code).toBe(3);
    const refused = client.exec({ argv: [''], env: {}, stdin: false });
    expect((await refused.exit).error).toMatch(/argv\[0\] is empty/);
    await expect(client.signal('exec-nope', 'SIGTERM')).rejects.toMatchObject({ code: 'NO_SUCH_EXEC' });
    await expect(client.forward(1)).rejects.toMatchObject({ code: 'FORWARD_REFUSED' });
    await client.close();
  });

  it('times out connecting to a stream that never answers', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-silent-'));
    const sockPath = path.join(dir, 'silent.sock');
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(sockPath, resolve));
    const t0 = Date.now();
    await expect(ControlClient.connect(net.connect(sockPath), { timeoutMs: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(3000);
    silent.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('main process', () => {
  it('survives the loss of its stream and is found again through health', async () => {
    const h = await harness();
    const socket = h.socket();
    const first = await ControlClient.connect(socket);
    const main = first.exec({ argv: ['sleep', '30'], env: {}, stdin: false, main: true });
    const [execId, pid] = await Promise.all([main.execId, main.pid]);
    const refused = first.exec({ argv: ['true'], env: {}, stdin: false, main: true });
    expect((await refused.exit).error).toMatch(/main process is already running/);
    socket.destroy();
    expect((await main.exit).error).toBe('machine connection lost');

    const second = await h.connect();
    const health = await second.health();
    expect(health.main).toEqual({ execId, pid, running: true });
    expect(health.execs).toEqual([expect.objectContaining({ execId, pid, main: true, argv0: 'sleep' })]);
    expect(pidAlive(pid)).toBe(true);

    await second.signal(execId, 'SIGTERM');
    await waitFor(async () => (await second.health()).main?.running === false, { what: 'main to exit' });
    expect((await second.health()).main).toEqual({ execId, pid, running: false, exit: { code: null, signal: 'SIGTERM' } });
    await second.close();
  });
});

describe('stopping', () => {
  it('shutdown stops children (SIGKILL after the grace) and exits 0', async () => {
    const h = await harness();
    const client = await h.connect();
    const stubborn = client.exec({ argv: ['sh', '-c', 'trap "" TERM; echo ready; sleep 30'], env: {}, stdin: false });
    stubborn.stderr.resume();
    await new Promise((resolve) => stubborn.stdout.once('data', resolve));
    stubborn.stdout.resume();
    const pid = await stubborn.pid;

    const t0 = Date.now();
    const reply = await client.shutdown(300);
    expect(reply).toEqual({ ok: true, killed: 1 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect((await stubborn.exit).signal).toBe('SIGKILL');
    expect(pidAlive(pid)).toBe(false);
    await client.closed;
    expect(await h.stop()).toBe(0);
  });

  it('SIGTERM to the harness stops every child and exits 0', async () => {
    const h = await harness();
    const client = await h.connect();
    const handle = client.exec({ argv: ['sleep', '30'], env: {}, stdin: false, main: true });
    handle.stdout.resume();
    handle.stderr.resume();
    const pid = await handle.pid;
    h.proc.kill('SIGTERM');
    const exit = await handle.exit;
    expect(exit.signal === 'SIGTERM' || exit.error === 'machine connection lost').toBe(true);
    expect(await h.stop()).toBe(0);
    expect(pidAlive(pid)).toBe(false);
    await client.closed;
  });
});
