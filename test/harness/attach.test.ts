// attach against a real harness process: a new host gets the main process's output and exit again.
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_CONTENT_TYPE, HEADERS, ROUTES } from '../../src/protocol/routes.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { ControlClient } from '../../src/vmm/channel/control-client.js';
import { buildHarness, collect, pidAlive, startHarness, waitFor, type RunningHarness } from './harness-fixture.js';

let bundle: string;
const running: RunningHarness[] = [];
const clients: ControlClient[] = [];

beforeAll(async () => {
  bundle = await buildHarness();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await Promise.all(running.map((h) => h.stop()));
});

/** A fresh harness per test: "no main yet" and "main exited" are machine-wide states. */
async function harness(): Promise<RunningHarness> {
  const h = await startHarness(bundle);
  running.push(h);
  return h;
}

async function connect(h: RunningHarness): Promise<ControlClient> {
  const client = await h.connect();
  clients.push(client);
  return client;
}

/** Resolves once `stream` has produced `text` (the stream keeps flowing afterwards). */
function waitForOutput(stream: Readable, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        stream.off('data', onData);
        stream.resume();
        resolve(seen);
      }
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`stream ended before ${JSON.stringify(text)}; got ${JSON.stringify(seen)}`)));
  });
}

const TICKER = ['sh', '-c', 'while true; do echo tick; sleep 0.05; done'];

describe('attach', () => {
  it('gives a new host the running main process output from now on, then its exit', async () => {
    const h = await harness();
    // The main process prints `one`, waits for a file, prints `two` and exits 7.
    const script = 'echo one; while [ ! -e go ]; do sleep 0.02; done; echo two; sleep 0.2; exit 7';
    const socket = h.socket();
    const first = await ControlClient.connect(socket);
    const main = first.exec({ argv: ['sh', '-c', script], env: {}, cwd: h.dir, stdin: false, main: true });
    main.stderr.resume();
    await waitForOutput(main.stdout, 'one\n');
    const [execId, pid] = await Promise.all([main.execId, main.pid]);
    socket.destroy();
    expect((await main.exit).error).toBe('machine connection lost');
    expect(pidAlive(pid)).toBe(true);

    const second = await connect(h);
    const attached = second.attachMain();
    expect(attached.stdin).toBeNull();
    expect(await attached.execId).toBe(execId);
    expect(await attached.pid).toBe(pid);
    const out = collect(attached.stdout);
    const err = collect(attached.stderr);
    fs.writeFileSync(path.join(h.dir, 'go'), '');
    expect(await attached.exit).toEqual({ code: 7, signal: null });
    // `one` was written before this attach: it is not replayed.
    expect((await out).toString()).toBe('two\n');
    expect((await err).length).toBe(0);
    expect((await second.health()).main).toEqual({ execId, pid, running: false, exit: { code: 7, signal: null } });
  });

  it('replies with the recorded exit status at once when the main process already exited', async () => {
    const h = await harness();
    const first = await connect(h);
    const main = first.exec({ argv: ['sh', '-c', 'echo bye; exit 3'], env: {}, stdin: false, main: true });
    main.stdout.resume();
    main.stderr.resume();
    expect(await main.exit).toEqual({ code: 3, signal: null });
    const [execId, pid] = await Promise.all([main.execId, main.pid]);
    await first.close();

    const second = await connect(h);
    const attached = second.attachMain();
    const [stdout, stderr, exit] = await Promise.all([collect(attached.stdout), collect(attached.stderr), attached.exit]);
    expect(exit).toEqual({ code: 3, signal: null });
    expect(stdout.length + stderr.length).toBe(0);
    expect(await attached.execId).toBe(execId);
    expect(await attached.pid).toBe(pid);
  });

  it('repeats the spawn failure of a main process that never started', async () => {
    const h = await harness();
    const client = await connect(h);
    const main = client.exec({ argv: ['aegis-no-such-command'], env: {}, stdin: false, main: true });
    main.stdout.resume();
    main.stderr.resume();
    expect((await main.exit).code).toBe(127);

    const attached = client.attachMain();
    const [stderr, exit] = await Promise.all([collect(attached.stderr), attached.exit, collect(attached.stdout)]);
    expect(exit).toEqual({ code: 127, signal: null });
    expect(stderr.toString()).toBe('aegis: aegis-no-such-command: command not found\n');
    expect(await attached.execId).toBe(await main.execId);
    await expect(attached.pid).rejects.toMatchObject({ code: 'NO_SUCH_EXEC' });
  });

  it('is refused with NO_MAIN when no main process was ever started', async () => {
    const h = await harness();
    const client = await connect(h);
    const attached = client.attachMain();
    await expect(attached.pid).rejects.toMatchObject({
      name: 'ChannelError',
      code: 'NO_MAIN',
      status: 404,
      message: 'no main process was started on this machine',
    });
    await expect(attached.execId).rejects.toMatchObject({ code: 'NO_MAIN' });
    expect(await attached.exit).toEqual({ code: null, signal: null, error: 'no main process was started on this machine' });
    await expect(attached.signal('SIGTERM')).rejects.toMatchObject({ code: 'NO_MAIN' });
  });

  it('hands the output to the latest attach: the earlier stream ends, the process runs on', async () => {
    const h = await harness();
    const client = await connect(h);
    const main = client.exec({ argv: TICKER, env: {}, stdin: false, main: true });
    main.stderr.resume();
    await waitForOutput(main.stdout, 'tick');
    const pid = await main.pid;

    // The exec stream that started the main process is taken over too.
    const a = client.attachMain();
    a.stderr.resume();
    expect((await main.exit).error).toBe('another attach took over the main process');
    await waitForOutput(a.stdout, 'tick');

    const other = await connect(h);
    const b = other.attachMain();
    b.stderr.resume();
    expect(await a.exit).toEqual({ code: null, signal: null, error: 'another attach took over the main process' });
    await waitForOutput(b.stdout, 'tick\ntick\n');
    expect(pidAlive(pid)).toBe(true);

    await b.signal('SIGTERM');
    expect(await b.exit).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('never kills the main process when an attach stream is reset or its connection drops', async () => {
    const h = await harness();
    const client = await connect(h);
    const main = client.exec({ argv: TICKER, env: {}, stdin: false, main: true });
    main.stdout.resume();
    main.stderr.resume();
    const pid = await main.pid;

    // A bare HTTP/2 attach, reset by the host as soon as the headers arrived.
    const session = http2.connect('http://aegis-harness', { createConnection: () => h.socket() });
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', ':path': ROUTES.attach, [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) }, { endStream: true });
    stream.on('error', () => {});
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    expect(headers[':status']).toBe(200);
    expect(headers['content-type']).toBe(FRAME_CONTENT_TYPE);
    expect(headers[HEADERS.execId]).toBe(await main.execId);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((resolve) => stream.once('close', resolve));
    session.destroy();

    // An attach whose whole connection drops.
    const dropping = await h.connect();
    const lost = dropping.attachMain();
    lost.stderr.resume();
    await waitForOutput(lost.stdout, 'tick');
    await dropping.close();
    expect((await lost.exit).error).toBe('machine connection lost');

    await new Promise((r) => setTimeout(r, 200));
    expect(pidAlive(pid)).toBe(true);
    expect((await client.health()).main).toEqual({ execId: await main.execId, pid, running: true });
    const again = client.attachMain();
    again.stderr.resume();
    await waitForOutput(again.stdout, 'tick');
    await again.signal('SIGKILL');
    expect((await again.exit).signal).toBe('SIGKILL');
    await waitFor(() => !pidAlive(pid), { what: 'main to be gone' });
  });
});
