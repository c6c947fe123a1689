// run() aborted while its task is being created: the daemon may make the task after the caller gave up, so
// the SDK keeps the create request, rejects at once with the abort reason, and cancels the task (DELETE) as
// soon as its id arrives. A stand-in daemon on a unix socket holds the create's answer to hit that window
// every time (a real daemon answers too fast to aim at it).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Aegis } from '../../../src/sdk/index.js';

describe('run() aborted during task creation', () => {
  let dir: string;
  let server: http.Server;
  let requests: string[];
  let answerCreate: () => void;
  let createReceived: Promise<void>;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-sdk-abort-'));
    requests = [];
    let received!: () => void;
    createReceived = new Promise((r) => (received = r));
    server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'POST' && req.url === '/v1/tasks') {
        answerCreate = () => json(201, { id: 'task-1' });
        received();
      } else if (req.method === 'DELETE') json(200, { id: 'task-1', result: 'deleting' });
      else json(404, { error: 'not here', reason: 'AEGIS_NOT_FOUND' });
    });
    await new Promise<void>((r) => server.listen(path.join(dir, 'aegisd.sock'), r));
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const aegis = () => new Aegis({ socket: path.join(dir, 'aegisd.sock') });
  const waitForRequest = async (line: string) => {
    for (let i = 0; i < 200 && !requests.includes(line); i++) await new Promise((r) => setTimeout(r, 10));
    return requests.includes(line);
  };

  it('rejects at once with the abort reason, then cancels the task once the daemon answers with its id', async () => {
    const controller = new AbortController();
    const run = aegis().run(['sleep', '30'], { signal: controller.signal });
    const waiting = run.wait();
    await createReceived;
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(requests).toEqual(['POST /v1/tasks']);
    answerCreate();
    expect(await waitForRequest('DELETE /v1/tasks/task-1')).toBe(true);
    expect(requests.filter((r) => r.startsWith('DELETE'))).toHaveLength(1);
  });

  it('the same when only start() was waited on', async () => {
    const controller = new AbortController();
    const starting = aegis().run(['sleep', '30'], { signal: controller.signal }).start();
    await createReceived;
    controller.abort();
    await expect(starting).rejects.toMatchObject({ name: 'AbortError' });
    answerCreate();
    expect(await waitForRequest('DELETE /v1/tasks/task-1')).toBe(true);
  });

  it('creates nothing when the signal was aborted before the run started', async () => {
    const run = aegis().run(['sleep', '30'], { signal: AbortSignal.abort() });
    await expect(run.wait()).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 50));
    expect(requests).toEqual([]);
  });
});
