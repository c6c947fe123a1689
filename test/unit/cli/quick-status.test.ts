// The fast path of `aegis status`: it answers only a plain 200 from a running daemon, exactly as the full
// command would print it, and leaves everything else to the full command.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aegisPaths, type AegisPaths } from '../../../src/config/paths.js';
import { quickStatus } from '../../../src/cli/quick-status.js';
import { statusText } from '../../../src/cli/output/status-text.js';
import type { DaemonStatus } from '../../../src/cli/daemon-status.js';

const STATUS: DaemonStatus = {
  version: '0.0.0',
  pid: process.pid,
  backend: 'sandbox',
  capabilities: { pauseResume: true, memorySnapshots: false, bootFromDiskLayers: true, isolation: 'namespace' },
  backends: {},
  counts: {},
  router: 'http://127.0.0.1:8099',
  watch: { dir: '/srv/apps', result: 'ok', message: '3 unchanged', lastAppliedAt: '2026-01-01T00:00:00.000Z' },
};

describe('quick status', () => {
  let home: string;
  let paths: AegisPaths;
  let server: http.Server | undefined;
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-quick-status-'));
    paths = aegisPaths({ AEGIS_HOME: home });
    fs.mkdirSync(paths.data, { recursive: true });
  });
  afterEach(async () => {
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
    fs.rmSync(home, { recursive: true, force: true });
  });

  const daemon = async (handler: http.RequestListener) => {
    server = http.createServer(handler);
    await new Promise<void>((r) => server!.listen(paths.socket, r));
    fs.writeFileSync(paths.pidFile, `${process.pid}\n`);
  };
  const run = async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const answered = await quickStatus(paths, out);
    return { answered, text };
  };

  it('prints what the full command prints for a running daemon', async () => {
    await daemon((req, res) => {
      expect(req.url).toBe('/v1/status');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(STATUS));
    });
    expect(await run()).toEqual({ answered: true, text: statusText(STATUS).join('\n') + '\n' });
    expect(statusText(STATUS)).toEqual([
      'aegisd: running',
      'backend: sandbox',
      'isolation: namespaces (not a VM)',
      'router: http://127.0.0.1:8099',
      'watch: /srv/apps: ok (applied 2026-01-01T00:00:00.000Z): 3 unchanged',
    ]);
  });

  it('leaves no daemon, an error reply and a cut-off reply to the full command', async () => {
    expect(await run()).toEqual({ answered: false, text: '' });
    await daemon((req, res) => {
      if (req.headers['x-n'] === undefined && served++ === 0) {
        res.statusCode = 500;
        return res.end('{"error":"boom"}');
      }
      res.setHeader('content-length', '1000');
      res.write(JSON.stringify(STATUS));
      res.socket?.end();
    });
    let served = 0;
    expect(await run()).toEqual({ answered: false, text: '' });
    expect(await run()).toEqual({ answered: false, text: '' });
  });
});
