// The SDK against a real daemon: run and exec stream output in order with their exit status, callbacks and
// stdin work, bytes survive, logs follow, errors carry the API's code, and an abort (or a reader that stops
// early) stops the command in the machine, not just the client.
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aegis, AegisApiError, AegisNotRunningError } from '../../src/sdk/index.js';
import { scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const SECRET = 'sdk-secret-0a1b2c3d';

describe('the SDK against a real daemon', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let aegis: Aegis;
  let instance: string;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    aegis = new Aegis({ home: t.home });
    await aegis.secrets.set(undefined, 'TOKEN', SECRET);
    instance = (await aegis.instances.create({ command: ['sh', '-c', 'echo booted; exec sleep 3600'], expose: [8080], env: { T: SECRET } })).metadata.uid;
  }, scaled(60_000));

  afterAll(async () => {
    await t?.dispose();
  }, scaled(60_000));

  it('run: chunks in order per stream, the exit code, and bytes that are not UTF-8 intact', async () => {
    const run = aegis.run(['sh', '-c', 'for i in 1 2 3; do echo out $i; done; echo err >&2; printf "\\377\\376"; exit 7']);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for await (const c of run) (c.stream === 'stdout' ? out : err).push(c.data);
    expect(Buffer.concat(out)).toEqual(Buffer.concat([Buffer.from('out 1\nout 2\nout 3\n'), Buffer.from([0xff, 0xfe])]));
    expect(Buffer.concat(err).toString()).toBe('err\n');
    expect(await run.wait()).toEqual({ exitCode: 7, signal: null });
  });

  it('run: callbacks get the output; a second reader is refused', async () => {
    const seen: string[] = [];
    const run = aegis.run(['sh', '-c', 'echo a; echo b >&2'], { onStdout: (d) => void seen.push(`out:${d}`), onStderr: (d) => void seen.push(`err:${d}`) });
    expect((await run.wait()).exitCode).toBe(0);
    expect(seen.sort()).toEqual(['err:b\n', 'out:a\n']);
    expect(() => run[Symbol.asyncIterator]()).toThrow(/read once/);
  });

  it('run: a missing command is 127; a bad spec rejects with AEGIS_INVALID before anything runs', async () => {
    const r = await aegis.run(['no-such-command-here']).output();
    expect(r.exitCode).toBe(127);
    await expect(aegis.run(['true'], { resources: { memoryMiB: 4 } }).wait()).rejects.toMatchObject({ name: 'AegisApiError', code: 'AEGIS_INVALID', status: 400 });
  });

  it('run: an abort cancels the task in the daemon and rejects with the abort reason', async () => {
    const controller = new AbortController();
    const run = aegis.run(['sleep', '30'], { signal: controller.signal });
    await run.start();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    await expect(run.wait()).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(5_000);
    const tasks = await aegis.tasks.list();
    const task = tasks.find((x) => x.spec.command.join(' ') === 'sleep 30')!;
    await waitFor(async () => (await aegis.tasks.get(task.metadata.uid)).status.phase === 'Failed', { what: 'the task to be cancelled' });
    expect((await aegis.tasks.get(task.metadata.uid)).status.reason).toBe('Cancelled');
  });

  it('run: an abort while the task is being created leaves no task running', async () => {
    const controller = new AbortController();
    const starting = aegis.run(['sleep', '31'], { signal: controller.signal }).start();
    controller.abort();
    await expect(starting).rejects.toMatchObject({ name: 'AbortError' });
    // The create went on in the daemon; the SDK cancels the task once its id comes back.
    const task = await waitFor(async () => (await aegis.tasks.list()).find((x) => x.spec.command.join(' ') === 'sleep 31'), { what: 'the task the abort left' });
    await waitFor(async () => (await aegis.tasks.get(task.metadata.uid)).status.reason === 'Cancelled', { what: 'the task to be cancelled' });
  });

  it('run: timeoutMs rejects with a TimeoutError', async () => {
    await expect(aegis.run(['sleep', '30'], { timeoutMs: 300 }).wait()).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('exec: output, exit code, stdin from a stream, env and workdir', async () => {
    const r = await aegis.exec(instance, ['sh', '-c', 'cat; echo "$X in $(pwd)"; exit 4'], { stdin: Readable.from(['line 1\n', 'line 2\n']), env: { X: 'x' }, workdir: '/tmp' }).output();
    expect(r).toMatchObject({ exitCode: 4, stdout: 'line 1\nline 2\nx in /tmp\n', stderr: '' });
  });

  it('exec: mask: true hides the values of secrets; without it they show', async () => {
    expect((await aegis.exec(instance, ['sh', '-c', 'echo "t=$T"'], { mask: true }).output()).stdout).toBe('t=***\n');
    expect((await aegis.exec(instance, ['sh', '-c', 'echo "t=$T"']).output()).stdout).toBe(`t=${SECRET}\n`);
  });

  it('exec: an abort kills the command in the instance', async () => {
    const controller = new AbortController();
    const exec = aegis.exec(instance, ['sh', '-c', 'echo started; sleep 2; touch /tmp/not-aborted'], { signal: controller.signal });
    const reading = (async () => {
      for await (const c of exec) {
        expect(c.data.toString()).toBe('started\n');
        controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await aegis.exec(instance, ['test', '-e', '/tmp/not-aborted']).wait()).exitCode).toBe(1);
  });

  it('exec: a reader that stops early (break) kills the command too', async () => {
    const exec = aegis.exec(instance, ['sh', '-c', 'echo started; sleep 2; touch /tmp/not-broken']);
    for await (const _ of exec) break;
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await aegis.exec(instance, ['test', '-e', '/tmp/not-broken']).wait()).exitCode).toBe(1);
  });

  it('logs: history, and follow yields new entries as they come until aborted', async () => {
    const history = [];
    for await (const e of aegis.logs(instance, { source: ['server'] })) history.push(e.line);
    expect(history).toEqual(['booted']);
    // History and then live lines: what the exec prints is seen whether it comes before or after the follow starts.
    const controller = new AbortController();
    const lines: string[] = [];
    const following = (async () => {
      for await (const e of aegis.logs(instance, { follow: true, source: ['exec'], signal: controller.signal })) {
        if (e.line.startsWith('follow-')) lines.push(e.line);
        if (e.line === 'follow-second') controller.abort();
      }
    })().catch((err: unknown) => err);
    await aegis.exec(instance, ['sh', '-c', 'echo follow-first; sleep 0.3; echo follow-second']).wait();
    expect(await following).toMatchObject({ name: 'AbortError' });
    expect(lines).toEqual(['follow-first', 'follow-second']);
  });

  it('errors carry the API reason code, status and issues; no daemon is AegisNotRunningError', async () => {
    const notFound = await aegis.instances.get('nope').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(AegisApiError);
    expect(notFound).toMatchObject({ status: 404, code: 'AEGIS_NOT_FOUND', message: 'no instance or app named "nope"' });
    const invalid = (await aegis.instances.create({ command: ['true'] }).catch((e: unknown) => e)) as AegisApiError;
    expect(invalid).toMatchObject({ status: 400, code: 'AEGIS_INVALID' });
    expect(invalid.issues).toContainEqual(expect.objectContaining({ message: 'an instance without app needs at least one port to expose' }));
    const stopped = await aegis.exec('nope', ['true']).wait().catch((e: unknown) => e);
    expect(stopped).toMatchObject({ code: 'AEGIS_NOT_FOUND' });
    const none = await new Aegis({ socket: `${t.home}/nothing.sock` }).status().catch((e: unknown) => e);
    expect(none).toBeInstanceOf(AegisNotRunningError);
  });

  it('apply writes manifests and reports per object; the SDK records itself as the source', async () => {
    const secret = { apiVersion: 'aegis.dev/v1', kind: 'Secret', metadata: { name: 'sdk-applied' }, spec: { data: { K: 'value-1234' } } };
    expect(await aegis.apply([secret])).toMatchObject([{ kind: 'Secret', name: 'sdk-applied', action: 'created' }]);
    expect(await aegis.apply([secret])).toMatchObject([{ action: 'unchanged' }]);
    const inst = await aegis.instances.get(instance);
    expect(inst.metadata.source).toBe('sdk');
  });

  describe('files', () => {
    it('streams a binary file in and out unchanged, keeping mode and mtime', async () => {
      const data = crypto.randomBytes(3 * 1024 * 1024 + 17);
      const chunks = Array.from({ length: 4 }, (_, i) => data.subarray(i * (data.length / 4) | 0, (i + 1) * (data.length / 4) | 0));
      const mtime = new Date('2026-01-02T03:04:05Z');
      expect(await aegis.files.write(instance, '/data/blob.bin', Readable.from(chunks), { mode: 0o600, mtime })).toEqual({ path: '/data/blob.bin', bytes: data.length });
      const download = await aegis.files.read(instance, '/data/blob.bin');
      expect(download).toMatchObject({ mode: '600', mtime: mtime.getTime(), size: data.length });
      const back: Buffer[] = [];
      for await (const c of download.body) back.push(c as Buffer);
      expect(Buffer.concat(back).equals(data)).toBe(true);
      expect(await aegis.files.stat(instance, '/data/blob.bin')).toMatchObject({ type: 'file', size: data.length, mode: '600', mtime: mtime.getTime() });
      const head = await aegis.files.read(instance, '/data/blob.bin', { maxBytes: 1000 });
      expect(head).toMatchObject({ size: 1000, truncated: data.length - 1000 });
      const first: Buffer[] = [];
      for await (const c of head.body) first.push(c as Buffer);
      expect(Buffer.concat(first).equals(data.subarray(0, 1000))).toBe(true);
    });

    it('strings and buffers, list, and a recursive remove', async () => {
      await aegis.files.write(instance, '/data/dir/a.txt', 'alpha\n');
      await aegis.files.write(instance, '/data/dir/b.txt', Buffer.from('beta\n'));
      expect(await aegis.files.readText(instance, '/data/dir/a.txt')).toBe('alpha\n');
      expect((await aegis.files.readBuffer(instance, '/data/dir/b.txt')).toString()).toBe('beta\n');
      expect((await aegis.files.list(instance, '/data/dir')).items.map((f) => [f.path, f.type]).sort()).toEqual([['/data/dir/a.txt', 'file'], ['/data/dir/b.txt', 'file']]);
      await aegis.files.remove(instance, '/data/dir', { recursive: true });
      await expect(aegis.files.stat(instance, '/data/dir')).rejects.toMatchObject({ status: 404, code: 'AEGIS_NOT_FOUND' });
    });

    it('a directory travels as tar: read from one place, written to another', async () => {
      await aegis.files.write(instance, '/src/x/one.txt', 'one\n');
      await aegis.files.write(instance, '/src/x/sub/two.sh', 'echo two\n', { mode: '755' });
      await aegis.files.writeTar(instance, '/copy', await aegis.files.readTar(instance, '/src/x'));
      expect((await aegis.exec(instance, ['sh', '-c', 'cat /copy/one.txt; /copy/sub/two.sh']).output()).stdout).toBe('one\ntwo\n');
    });

    it("mask: the secret's value reads as *** wherever it falls, chunk boundaries included; without mask it shows", async () => {
      // Copies of the value straddle every 64 KiB boundary of a 1 MiB file (where transfers cut chunks).
      const filler = Buffer.alloc(1024 * 1024, 'x');
      const offsets = Array.from({ length: 15 }, (_, i) => (i + 1) * 65536 - 7);
      for (const at of offsets) filler.write(SECRET, at);
      await aegis.files.write(instance, '/data/secret.txt', filler);
      const masked = await aegis.files.readText(instance, '/data/secret.txt', { mask: true });
      expect(masked).not.toContain(SECRET);
      expect(masked.split('***').length - 1).toBe(offsets.length);
      expect(masked.length).toBe(filler.length - offsets.length * (SECRET.length - 3));
      expect((await aegis.files.readBuffer(instance, '/data/secret.txt')).equals(filler)).toBe(true);
      // Cut by maxBytes inside a value: its first bytes are not shown either.
      const head = await aegis.files.read(instance, '/data/secret.txt', { maxBytes: offsets[0]! + 10, mask: true });
      expect(head.truncated).toBe(filler.length - offsets[0]! - 10);
      const parts: Buffer[] = [];
      for await (const c of head.body) parts.push(c as Buffer);
      expect(Buffer.concat(parts).toString()).toBe('x'.repeat(offsets[0]!));
      await expect(aegis.files.read(instance, '/data', { mask: true })).rejects.toMatchObject({ code: 'AEGIS_INVALID', message: expect.stringContaining('mask applies to a file') });
    });

    it('refuses a directory for read, a relative path and a missing file with the API code', async () => {
      await aegis.files.write(instance, '/d/f', 'x');
      await expect(aegis.files.read(instance, '/d')).rejects.toMatchObject({ code: 'AEGIS_INVALID' });
      await expect(aegis.files.readText(instance, 'rel/path')).rejects.toMatchObject({ status: 400, code: 'AEGIS_INVALID' });
      await expect(aegis.files.readText(instance, '/no/such/file')).rejects.toMatchObject({ status: 404, code: 'AEGIS_NOT_FOUND' });
    });

    it("reaches a running task's machine with { task: id }", async () => {
      const run = aegis.run(['sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; cat /tmp/go']);
      await run.start();
      const task = (await aegis.tasks.list()).find((x) => x.spec.command.join(' ').includes('/tmp/go'))!;
      const machine = { task: task.metadata.uid };
      await waitFor(async () => (await aegis.files.write(machine, '/tmp/conf', `t=${SECRET}\n`).then(() => true, () => false)), { what: 'the task machine to take a file' });
      expect(await aegis.files.readText(machine, '/tmp/conf', { mask: true })).toBe('t=***\n');
      await aegis.files.write(machine, '/tmp/go', 'released\n');
      expect(await run.output()).toMatchObject({ exitCode: 0, stdout: 'released\n' });
    });
  });
});
