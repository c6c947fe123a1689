// exec over the control channel against a real harness process: output, exit codes, stdin, signals, env.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../src/vmm/channel/control-client.js';
import { exitCodeOf } from '../../src/protocol/exit-code.js';
import { buildHarness, collect, pidAlive, run, startHarness, waitFor, type RunningHarness } from './harness-fixture.js';

let harness: RunningHarness;
let client: ControlClient;

beforeAll(async () => {
  // A variable in the harness's own environment, which no child may ever see.
  harness = await startHarness(await buildHarness(), { AEGIS_LEAK_CHECK: 'harness-only' });
  client = await harness.connect();
});

afterAll(async () => {
  await client?.close();
  await harness?.stop();
});

describe('exec output', () => {
  it('returns echo output exactly, with the pid and exec id first', async () => {
    const { stdout, stderr, exit, handle } = await run(client, ['echo', 'hello', 'world']);
    expect(stdout.toString()).toBe('hello world\n');
    expect(stderr.length).toBe(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await handle.execId).toMatch(/^exec-[0-9a-f]+$/);
    expect(await handle.pid).toBeGreaterThan(1);
  });

  it('reports the exit code', async () => {
    const { exit } = await run(client, ['sh', '-c', 'exit 42']);
    expect(exit).toEqual({ code: 42, signal: null });
    expect(exitCodeOf(exit)).toBe(42);
  });

  it('keeps stderr on stderr and stdout on stdout', async () => {
    const { stdout, stderr } = await run(client, ['sh', '-c', 'echo to-out; echo to-err >&2; echo out2; echo err2 >&2']);
    expect(stdout.toString()).toBe('to-out\nout2\n');
    expect(stderr.toString()).toBe('to-err\nerr2\n');
  });

  it('delivers 100 000 lines complete and in order', async () => {
    const { stdout, exit } = await run(client, ['seq', '1', '100000']);
    expect(exit.code).toBe(0);
    const lines = stdout.toString().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(100_000);
    for (let i = 0; i < lines.length; i++) if (lines[i] !== String(i + 1)) throw new Error(`line ${i + 1} is ${lines[i]}`);
  });

  it('keeps a 1 MiB single line intact', async () => {
    const { stdout, exit } = await run(client, ['sh', '-c', "head -c 1048576 /dev/zero | tr '\\0' x; echo"]);
    expect(exit.code).toBe(0);
    expect(stdout.length).toBe(1024 * 1024 + 1);
    expect(stdout.toString()).toBe('x'.repeat(1024 * 1024) + '\n');
  });

  it('passes all 256 byte values through unchanged, both ways', async () => {
    const bytes = Buffer.alloc(256 * 64);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
    const { stdout, exit } = await run(client, ['cat'], { stdin: true }, Readable.from([bytes]));
    expect(exit.code).toBe(0);
    expect(stdout.equals(bytes)).toBe(true);
    expect(new Set(stdout).size).toBe(256);
  });
});

describe('exec input', () => {
  it('pipes a Readable into stdin and ends it', async () => {
    const input = Readable.from(['line one\n', 'line two\n', 'line three\n']);
    const { stdout, exit } = await run(client, ['sh', '-c', 'wc -l; cat'], {}, input);
    expect(exit.code).toBe(0);
    // wc consumed everything, so cat sees EOF: proves the stream's end reached the child.
    expect(stdout.toString().trim()).toBe('3');
  });

  it('offers a writable stdin when the request asks for it', async () => {
    const handle = client.exec({ argv: ['tr', 'a-z', 'A-Z'], env: {}, stdin: true });
    expect(handle.stdin).not.toBeNull();
    const out = collect(handle.stdout);
    handle.stderr.resume();
    handle.stdin!.write('abc ');
    handle.stdin!.end('xyz\n');
    expect((await out).toString()).toBe('ABC XYZ\n');
    expect((await handle.exit).code).toBe(0);
  });

  it('gives /dev/null as stdin when stdin is false', async () => {
    const { stdout, exit } = await run(client, ['sh', '-c', 'cat; echo eof'], { stdin: false });
    expect(exit.code).toBe(0);
    expect(stdout.toString()).toBe('eof\n');
  });

  it('finishes when the child exits without reading its stdin', async () => {
    const endless = new PassThrough();
    endless.write(Buffer.alloc(64 * 1024));
    const { exit } = await run(client, ['true'], {}, endless);
    expect(exit.code).toBe(0);
    endless.destroy();
  });
});

describe('big requests', () => {
  it('carries an environment too big for a header in the body, ahead of stdin', async () => {
    const big = 'v'.repeat(100_000);
    const { stdout, exit } = await run(
      client,
      ['sh', '-c', 'printf %s "$BIG" | wc -c; cat'],
      { env: { BIG: big } },
      Readable.from([Buffer.from('stdin after the request')]),
    );
    expect(exit.code).toBe(0);
    expect(stdout.toString()).toBe('100000\nstdin after the request');
  });

  it('reports a kernel-refused environment (E2BIG) as 126', async () => {
    const { stderr, exit } = await run(client, ['true'], { env: { HUGE: 'x'.repeat(200_000) } });
    expect(exit.code).toBe(126);
    expect(stderr.toString()).toBe('aegis: true: argument list or environment too long\n');
  });
});

describe('exec failures', () => {
  it('reports a missing command as 127 with a one-line message', async () => {
    const { stdout, stderr, exit, handle } = await run(client, ['no-such-command-aegis']);
    expect(exit).toEqual({ code: 127, signal: null });
    expect(stderr.toString()).toBe('aegis: no-such-command-aegis: command not found\n');
    expect(stdout.length).toBe(0);
    await expect(handle.pid).rejects.toThrow();
  });

  it('reports a file that is not executable as 126', async () => {
    const file = path.join(harness.dir, 'not-exec.sh');
    fs.writeFileSync(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const { stderr, exit } = await run(client, [file]);
    // Root may execute any file with one x bit; with none set even root gets EACCES.
    expect(exit.code).toBe(126);
    expect(stderr.toString()).toBe(`aegis: ${file}: permission denied\n`);
  });

  it('reports a missing cwd clearly', async () => {
    const { stderr, exit } = await run(client, ['true'], { cwd: '/no/such/dir' });
    expect(exit.code).toBe(126);
    expect(stderr.toString()).toContain('/no/such/dir');
  });

  it('refuses a malformed request without hanging', async () => {
    const handle = client.exec({ argv: [], env: {}, stdin: false });
    const exit = await handle.exit;
    expect(exit.code).toBeNull();
    expect(exit.error).toMatch(/argv/);
  });
});

describe('signals', () => {
  it('reports a death by signal as signal name and 128+n', async () => {
    const handle = client.exec({ argv: ['sleep', '30'], env: {}, stdin: false });
    handle.stdout.resume();
    handle.stderr.resume();
    const pid = await handle.pid;
    expect(pidAlive(pid)).toBe(true);
    await handle.signal('SIGKILL');
    const exit = await handle.exit;
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(exitCodeOf(exit)).toBe(137);
  });

  it('signals the whole process group of the exec', async () => {
    const handle = client.exec({ argv: ['sh', '-c', 'sleep 30 & echo $!; wait'], env: {}, stdin: false });
    handle.stderr.resume();
    const firstLine = await new Promise<string>((resolve) => handle.stdout.once('data', (c: Buffer) => resolve(c.toString())));
    const grandchild = Number(firstLine.trim());
    expect(pidAlive(grandchild)).toBe(true);
    await handle.signal('TERM');
    expect((await handle.exit).signal).toBe('SIGTERM');
    await waitFor(() => !pidAlive(grandchild), { what: 'grandchild to die' });
  });

  it('rejects a signal for an exec that has exited', async () => {
    const { handle } = await run(client, ['true']);
    await expect(handle.signal('SIGTERM')).rejects.toMatchObject({ code: 'NO_SUCH_EXEC' });
  });
});

describe('environment', () => {
  it('gives children exactly the requested env plus defaults, never the harness env', async () => {
    const { stdout } = await run(client, ['env'], { env: { FOO: 'bar', HOME: '/home/agent' } });
    const env = Object.fromEntries(
      stdout.toString().trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env.FOO).toBe('bar');
    expect(env.HOME).toBe('/home/agent');
    expect(env.PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(env.HOSTNAME).toBeTruthy();
    expect(env.AEGIS_LEAK_CHECK).toBeUndefined();
    expect(env.AEGIS_CONTROL_SOCKET).toBeUndefined();
    expect(Object.keys(env).sort()).toEqual(['FOO', 'HOME', 'HOSTNAME', 'PATH']);
  });

  it('runs in the requested cwd and looks commands up on the requested PATH', async () => {
    const bin = path.join(harness.dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'aegis-hello'), '#!/bin/sh\npwd\n', { mode: 0o755 });
    const { stdout, exit } = await run(client, ['aegis-hello'], { cwd: harness.dir, env: { PATH: `${bin}:/usr/bin:/bin` } });
    expect(exit.code).toBe(0);
    expect(stdout.toString()).toBe(`${fs.realpathSync(harness.dir)}\n`);
  });
});
