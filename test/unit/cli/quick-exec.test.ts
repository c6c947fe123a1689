// The quick `aegis exec` against the full command where a real daemon cannot be made to misbehave: a stand-in
// daemon on the socket sends each reply shape (every record kind, a signal, no exit record, a cut-off stream, a
// non-JSON error), and the quick path, `bin/aegis` and the full command must print the same and send the same
// request. Also which command lines the quick path takes at all.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCli } from '../../../src/cli/cli.js';
import type { ExecCommand } from '../../../src/cli/commands/instance/exec.js';
import { parseEnvPairs } from '../../../src/cli/options/env-pairs.js';
import { aegisPaths } from '../../../src/config/paths.js';
import { quickExecArgs } from '../../../src/cli/quick-exec-args.js';
import { runWays } from '../../support/cli-ways.js';

describe('quick exec command lines', () => {
  it('takes the common forms, parsed as the full command parses them', () => {
    expect(quickExecArgs(['exec', 'app', '--', 'echo', 'hi'])).toEqual({ target: 'app', request: { command: ['echo', 'hi'] }, interactive: false });
    expect(quickExecArgs(['exec', 'app', 'echo', 'hi'])).toEqual({ target: 'app', request: { command: ['echo', 'hi'] }, interactive: false });
    expect(quickExecArgs(['exec', '-i', '-e', 'A=1', '--env', 'A=2', '-e', 'B=x=y', '-w', '/a', '--workdir', '/b', 'app', '-u', '1000', '--', 'cat', '-n', '--'])).toEqual({
      target: 'app',
      request: { command: ['cat', '-n', '--'], env: { A: '2', B: 'x=y' }, workdir: '/b', user: '1000' },
      interactive: true,
    });
    // Empty values are dropped, as the full command drops them.
    expect(quickExecArgs(['exec', '--interactive', '-w', '', '-u', '', 'app', '--', 'pwd'])).toEqual({ target: 'app', request: { command: ['pwd'] }, interactive: true });
  });

  it('leaves everything else to the full command', () => {
    for (const argv of [
      ['status'],
      ['exec'],
      ['exec', 'app'],
      ['exec', 'app', '--'],
      ['exec', '--', 'app', 'true'],
      ['exec', 'app', 'extra', '--', 'true'],
      ['exec', 'app', 'ls', '-l'],
      ['exec', 'app', '-i', 'cat'],
      ['exec', '', '--', 'true'],
      ['exec', '--help'],
      ['exec', 'app', '-h', '--', 'true'],
      ['exec', '--env=A=1', 'app', '--', 'true'],
      ['exec', '-ie', 'A=1', 'app', '--', 'true'],
      ['exec', '-e', 'A', 'app', '--', 'true'],
      ['exec', '-e', '=1', 'app', '--', 'true'],
      ['exec', '-e', '', 'app', '--', 'true'],
      ['exec', '-e', '-x=1', 'app', '--', 'true'],
      ['exec', '-w', '--', 'app', 'true'],
      ['exec', '-u'],
      ['exec', '--no-interactive', 'app', '--', 'true'],
    ]) {
      expect(quickExecArgs(argv), argv.join(' ')).toBeUndefined();
    }
  });
});

describe('quick exec command lines against the command parser', () => {
  const WORDS = ['-i', '--interactive', '-e', '--env', '-w', '--workdir', '-u', '--user', '--', '-h', '--help', '-ie', '--env=A=1', '--no-interactive', '-l', '-x=1', 'A=1', 'A=2', 'B=x=y', '=1', '', 'app', 'inst-1', 'echo', 'hi', '/tmp', '1000', 'é'];

  it('takes only command lines clipanion parses, and parses them to the same request', async () => {
    const cli = await buildCli(['exec']);
    let taken = 0;
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WORDS), { maxLength: 9 }), (words) => {
        const argv = ['exec', ...words];
        const quick = quickExecArgs(argv);
        if (!quick) return;
        taken++;
        const parsed = cli.process(argv) as ExecCommand;
        const env = parsed.env.length ? { env: parseEnvPairs(parsed.env) } : {};
        expect(
          { target: parsed.target, request: { command: parsed.command, ...env, ...(parsed.workdir ? { workdir: parsed.workdir } : {}), ...(parsed.user ? { user: parsed.user } : {}) }, interactive: parsed.interactive },
          argv.join(' '),
        ).toEqual(quick);
      }),
      { numRuns: 3_000, seed: 16 },
    );
    expect(taken).toBeGreaterThan(100);
  });
});

describe('quick exec replies', () => {
  let home: string;
  let server: http.Server | undefined;
  const requests: { url?: string; type?: string; body: string; header?: string }[] = [];
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-qx-'));
    requests.length = 0;
  });
  afterEach(async () => {
    server?.closeAllConnections();
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
    fs.rmSync(home, { recursive: true, force: true });
  });

  /** A stand-in daemon answering every exec with `reply`. */
  const daemon = async (reply: (res: http.ServerResponse) => void) => {
    server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        requests.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(parts).toString(), header: req.headers['x-aegis-exec'] as string | undefined });
        reply(res);
      });
    });
    await new Promise<void>((r) => server!.listen(aegisPaths({ AEGIS_HOME: home }).socket, r));
  };
  const ndjson = (res: http.ServerResponse, records: unknown[], end = true) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const r of records) res.write(`${JSON.stringify(r)}\n`);
    if (end) res.end();
  };
  const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, AEGIS_HOME: home });
  const same = async (args: string[], input?: string) => {
    const r = await runWays(args, { env: env(), ...(input !== undefined ? { input } : {}) });
    expect(r.quick.code, 'the quick path answered (99: it fell through)').not.toBe(99);
    expect(r.bin).toEqual(r.full);
    expect(r.quick).toEqual(r.full);
    return r.full;
  };

  it('every record kind, in order, to its stream; the exit code', async () => {
    await daemon((res) =>
      ndjson(res, [
        { stream: 'stdout', text: 'text é\n' },
        { stream: 'stderr', b64: Buffer.from('err bytes\n').toString('base64') },
        { stream: 'system', text: '[aegis] 10 bytes dropped' },
        { stream: 'system' },
        { stream: 'stdout', text: '' },
        { stream: 'stdout', exit: { code: 3, signal: null } },
      ]),
    );
    expect(await same(['exec', 'x', '--', 'cmd'])).toEqual({ code: 3, stdout: 'text é\n', stderr: 'err bytes\n[aegis] 10 bytes dropped\n' });
  });

  it('a signal, a memory kill, an instance stopping, no exit record', async () => {
    const exits = [
      [{ code: null, signal: 'SIGKILL' }, 137, ''],
      [{ code: 137, signal: 'SIGKILL', reason: 'OOMKilled', message: 'killed: out of memory' }, 137, 'error: killed: out of memory\n'],
      [{ code: -1, signal: null }, 255, 'error: the instance stopped during the command\n'],
      [undefined, 255, 'error: the daemon ended the exec without an exit status\n'],
    ] as const;
    for (const [exit, code, stderr] of exits) {
      await daemon((res) => ndjson(res, [{ stream: 'stdout', text: 'out\n' }, ...(exit ? [{ stream: 'stdout', exit }] : [])]));
      expect(await same(['exec', 'x', '--', 'cmd']), JSON.stringify(exit)).toEqual({ code, stdout: 'out\n', stderr });
      server!.closeAllConnections();
      await new Promise((r) => server!.close(r));
    }
    server = undefined;
  });

  it('a stream cut off midway is a lost connection', async () => {
    await daemon((res) => {
      ndjson(res, [{ stream: 'stdout', text: 'partial\n' }], false);
      setTimeout(() => res.socket?.destroy(), 50);
    });
    expect(await same(['exec', 'my app', '--', 'cmd'])).toEqual({
      code: 1,
      stdout: 'partial\n',
      stderr: 'error: the connection to aegisd was lost during POST /v1/instances/my%20app/exec (the daemon stopped or crashed; check with: aegis status)\n',
    });
  });

  it('an error reply, JSON with issues or plain text', async () => {
    await daemon((res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid exec request: user: bad', reason: 'AEGIS_INVALID', issues: [{ path: 'user', message: 'bad' }, { location: 'header', path: '', message: 'worse' }] }));
    });
    expect(await same(['exec', 'x', '--', 'cmd'])).toEqual({ code: 1, stdout: '', stderr: 'error: invalid exec request: user: bad\n  user: bad\n  header: worse\n' });
    server!.closeAllConnections();
    await new Promise((r) => server!.close(r));
    await daemon((res) => {
      res.writeHead(502);
      res.end('bad gateway\n');
    });
    expect(await same(['exec', 'x', '--', 'cmd'])).toEqual({ code: 1, stdout: '', stderr: 'error: bad gateway\n' });
  });

  it('sends the request the full command sends, with and without stdin', async () => {
    await daemon((res) => ndjson(res, [{ stream: 'stdout', exit: { code: 0, signal: null } }]));
    await same(['exec', '-e', 'A=1', '-w', '/w', '-u', 'app', 'x', '--', 'cmd', 'é']);
    await same(['exec', '-i', '-e', 'A=1', 'x', '--', 'cat'], 'input bytes\n');
    const [bin, quick, full, binIn, quickIn, fullIn] = requests;
    expect(bin).toEqual({ url: '/v1/instances/x/exec', type: 'application/json', body: JSON.stringify({ command: ['cmd', 'é'], env: { A: '1' }, workdir: '/w', user: 'app' }) });
    expect(quick).toEqual(full);
    expect(bin).toEqual(full);
    expect(binIn).toEqual({ url: '/v1/instances/x/exec', type: 'application/octet-stream', body: 'input bytes\n', header: JSON.stringify({ command: ['cat'], env: { A: '1' } }) });
    expect(quickIn).toEqual(fullIn);
    expect(binIn).toEqual(fullIn);
  });
});
