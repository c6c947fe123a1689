// The quick `aegis exec` (src/cli/quick-exec.ts) against the full clipanion command on a real daemon and
// instance: every case runs three ways, `bin/aegis` itself, the quick path alone (which must answer, not fall
// through) and the full command alone, and all three must print the same bytes and exit with the same code.
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAN_PAUSE, ON_VM, scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { spawn } from 'node:child_process';
import { runWays, WAYS, type WayResult } from '../support/cli-ways.js';

describe('quick exec', { timeout: scaled(60_000) }, () => {
  let t: TempHome;
  let id: string;
  const stateOf = async () => (await t.api('GET', `/v1/instances/${id}`)).body.status.state as string | undefined;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    const created = await t.api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] });
    expect(created.status).toBe(201);
    id = created.body.metadata.uid;
    await waitFor(async () => (await stateOf()) === 'running', { what: 'the instance to run', timeoutMs: scaled(30_000) });
  }, scaled(60_000));

  afterAll(async () => {
    await t?.dispose();
  }, scaled(60_000));

  /** Runs `args` the three ways and expects them alike; returns what they printed. */
  const same = async (args: string[], opts: { input?: string | Buffer; before?: () => Promise<void> } = {}): Promise<WayResult> => {
    const r = await runWays(args, { env: t.env, ...opts });
    expect(r.quick.code, 'the quick path answered (99: it fell through)').not.toBe(99);
    expect(r.bin).toEqual(r.full);
    expect(r.quick).toEqual(r.full);
    return r.full;
  };

  it('a command, its separate streams, its exit code, its env, workdir and user', async () => {
    expect(await same(['exec', id, '--', 'echo', 'hello'])).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
    expect(await same(['exec', id, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7'])).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    expect(await same(['exec', '-e', 'A=1', '--env', 'B=x=y', '-w', '/tmp', '--user', '1000', id, '--', 'sh', '-c', 'echo $A $B; pwd; id -u'])).toEqual({ code: 0, stdout: '1 x=y\n/tmp\n1000\n', stderr: '' });
    // Options after TARGET, and no `--`.
    expect(await same(['exec', id, '-e', 'A=2', '--', 'sh', '-c', 'echo $A'])).toMatchObject({ code: 0, stdout: '2\n' });
    expect(await same(['exec', id, 'echo', 'no', 'dashes'])).toMatchObject({ code: 0, stdout: 'no dashes\n' });
  });

  it('errors: a command not found, no such instance, a bad user', async () => {
    expect(await same(['exec', id, '--', 'no-such-command'])).toMatchObject({ code: 127, stdout: '' });
    expect(await same(['exec', 'no-such-instance', '--', 'true'])).toEqual({ code: 1, stdout: '', stderr: 'error: no instance or app named "no-such-instance"\n' });
    const bad = await same(['exec', id, '-u', 'a:b:c', '--', 'id']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: invalid exec request: user: .*\n {2}user: .*\n$/);
  });

  it('large output, text and binary', async () => {
    const text = await same(['exec', id, '--', 'seq', '1', '200000']);
    expect(text.stdout.length).toBe(1_288_895);
    // Bytes that are not UTF-8 travel base64-encoded.
    const binary = await runWays(['exec', id, '--', 'sh', '-c', "head -c 300000 /dev/zero | tr '\\0' '\\377'; echo done >&2"], { env: t.env, raw: true });
    for (const r of [binary.bin, binary.quick, binary.full]) expect(r).toEqual({ code: 0, stdout: Buffer.alloc(300_000, 0xff).toString('latin1'), stderr: 'done\n' });
  });

  it('stdin piped in with -i, small and large; without -i the command reads none', async () => {
    expect(await same(['exec', id, '-i', '--', 'cat'], { input: 'piped stdin\n' })).toEqual({ code: 0, stdout: 'piped stdin\n', stderr: '' });
    const big = Buffer.from(Array.from({ length: 150_000 }, (_, i) => `line ${i}\n`).join(''));
    expect(await same(['exec', '--interactive', id, '--', 'sh', '-c', 'wc -c; echo end'], { input: big })).toEqual({ code: 0, stdout: `${big.length}\nend\n`, stderr: '' });
    expect(await same(['exec', id, '--', 'cat'], { input: 'not read\n' })).toEqual({ code: 0, stdout: '', stderr: '' });
    // With stdin the request rides in a header: characters beyond ASCII in it (node:http refused them once).
    expect(await same(['exec', id, '-i', '-e', 'W=中', '--', 'sh', '-c', 'echo "$W $0"; cat', 'é😀'], { input: 'in\n' })).toEqual({ code: 0, stdout: '中 é😀\nin\n', stderr: '' });
  });

  it.skipIf(!CAN_PAUSE || ON_VM)('a paused instance wakes for the exec', async () => {
    const pause = async () => {
      expect((await t.api('POST', `/v1/instances/${id}/pause`)).status).toBe(200);
      await waitFor(async () => (await stateOf()) === 'paused', { what: 'the instance to pause' });
    };
    expect(await same(['exec', id, '--', 'echo', 'awake'], { before: pause })).toEqual({ code: 0, stdout: 'awake\n', stderr: '' });
  });

  it('Ctrl+C ends the CLI by the signal and the command in the instance with it', async () => {
    for (const [way, seconds] of [['quick', 31], ['full', 32]] as const) {
      const child = spawn(process.execPath, [...WAYS[way], 'exec', id, '--', 'sh', '-c', `echo started; exec sleep ${seconds}`], { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      await waitFor(() => out === 'started\n', { what: `${way}: the command to start` });
      const closed = once(child, 'close');
      child.kill('SIGINT');
      expect(await closed, way).toEqual([null, 'SIGINT']);
      // The daemon stops the command once the CLI's connection closes.
      const running = async () => {
        const ps = (await t.aegis(['exec', id, '--', 'ps', '-o', 'args'])).stdout;
        expect(ps).toContain('ps -o args'); // the listing itself worked
        return ps.includes(`sleep ${seconds}`);
      };
      await waitFor(async () => !(await running()), { what: `${way}: sleep ${seconds} to end` });
    }
  });

  it('no daemon: the quick path leaves it to the full command', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-'));
    try {
      const r = await runWays(['exec', id, '--', 'true'], { env: { ...t.env, AEGIS_HOME: home } });
      expect(r.quick.code).toBe(99);
      expect(r.bin).toEqual(r.full);
      expect(r.full).toEqual({ code: 1, stdout: '', stderr: `error: aegisd is not running (no daemon at ${path.join(home, 'aegisd.sock')}); start it with: aegis up\n` });
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
