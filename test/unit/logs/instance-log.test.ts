import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InstanceLogs, type InstanceLogEntry, type ReadOptions } from '../../../src/logs/instance-log.js';
import { MAX_LINE_BYTES } from '../../../src/logs/line-splitter.js';

const INST = 'inst-abc';

async function collect(logs: InstanceLogs, opts: ReadOptions = {}): Promise<InstanceLogEntry[]> {
  const out: InstanceLogEntry[] = [];
  for await (const e of logs.read(INST, opts)) out.push(e);
  return out;
}

/** Starts a follower and hands back what it has received so far, plus a way to stop it. */
function follow(logs: InstanceLogs, opts: ReadOptions = {}, onEntry?: () => Promise<void>) {
  const abort = new AbortController();
  const got: InstanceLogEntry[] = [];
  const done = (async () => {
    for await (const e of logs.read(INST, { ...opts, follow: true, signal: abort.signal })) {
      got.push(e);
      if (onEntry) await onEntry();
    }
  })();
  return {
    got,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const lines = (es: InstanceLogEntry[]) => es.map((e) => e.line);

describe('InstanceLogs', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-ilog-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes one entry per line with the full entry shape', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    w.write('stdout', 'server', Buffer.from('hello\nworld\n'));
    w.write('stderr', 'exec', Buffer.from('oops\n'), 'exec-1');
    w.system('process exited with code 3');
    const got = await collect(logs);
    expect(got.map(({ ts, ...rest }) => rest)).toEqual([
      { stream: 'stdout', source: 'server', instance: INST, app: 'web', line: 'hello' },
      { stream: 'stdout', source: 'server', instance: INST, app: 'web', line: 'world' },
      { stream: 'stderr', source: 'exec', instance: INST, app: 'web', exec_id: 'exec-1', line: 'oops' },
      { stream: 'system', source: 'system', instance: INST, app: 'web', line: 'process exited with code 3' },
    ]);
    expect(Number.isNaN(Date.parse(got[0].ts))).toBe(false);
    expect(fs.readFileSync(path.join(dir, `${INST}.ndjson`), 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('joins a line split across chunks, per stream, and strips CRLF', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    w.write('stdout', 'server', Buffer.from('hel'));
    w.write('stderr', 'server', Buffer.from('err-a'));
    w.write('stdout', 'server', Buffer.from('lo\r\nnext'));
    w.write('stderr', 'server', Buffer.from('-b\n'));
    w.write('stdout', 'server', Buffer.from(' line\n'));
    expect((await collect(logs)).map((e) => `${e.stream}:${e.line}`)).toEqual(['stdout:hello', 'stderr:err-a-b', 'stdout:next line']);
  });

  it('holds a partial last line until flush, and keeps a multi-byte character split across chunks intact', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    const euro = Buffer.from('€');
    w.write('stdout', 'server', Buffer.concat([Buffer.from('price '), euro.subarray(0, 1)]));
    w.write('stdout', 'server', euro.subarray(1));
    expect(await collect(logs)).toEqual([]);
    w.flush();
    expect(lines(await collect(logs))).toEqual(['price €']);
    w.write('stdout', 'server', Buffer.from('tail without newline'));
    w.close();
    expect(lines(await collect(logs))).toEqual(['price €', 'tail without newline']);
  });

  it('splits an over-long line into pieces of at most 64 KiB, losing nothing', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    const long = 'é'.repeat(MAX_LINE_BYTES); // two bytes each: 2 x 64 KiB
    w.write('stdout', 'server', Buffer.from(long.slice(0, 1000)));
    w.write('stdout', 'server', Buffer.from(long.slice(1000) + '\nshort\n'));
    const got = lines(await collect(logs));
    expect(got.length).toBe(3);
    for (const l of got.slice(0, 2)) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(MAX_LINE_BYTES);
    expect(got.slice(0, 2).join('')).toBe(long);
    expect(got[2]).toBe('short');
  });

  it('replaces invalid UTF-8 instead of dropping the line', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    w.write('stdout', 'server', Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]));
    expect(lines(await collect(logs))).toEqual(['a\ufffd\ufffdb']);
  });

  it('rotates by size, drops the oldest file, and reads history oldest first', async () => {
    const logs = new InstanceLogs(dir, { maxBytes: 2000, keepFiles: 2 });
    const w = logs.writer(INST, 'web');
    for (let i = 0; i < 100; i++) w.write('stdout', 'server', Buffer.from(`line ${i}\n`));
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual([`${INST}.ndjson`, `${INST}.ndjson.1`, `${INST}.ndjson.2`]);
    for (const f of files) expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(2000);
    const [first, ...rest] = lines(await collect(logs));
    const got = rest.map((l) => Number(l.split(' ')[1]));
    // Consecutive, ending at the newest line: whatever was dropped is a prefix, and a system line counts it.
    expect(got.at(-1)).toBe(99);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => 100 - got.length + i));
    expect(got.length).toBeGreaterThan(20);
    expect(first).toBe(`aegis: the first ${100 - got.length} lines of this instance's log were dropped (instance logs keep the newest 5.9KiB: limits.instanceLog)`);
  });

  it('counts dropped lines across a restart (the count resumes from the files an earlier daemon wrote)', async () => {
    for (const round of [0, 1]) {
      const logs = new InstanceLogs(dir, { maxBytes: 2000, keepFiles: 2 });
      const w = logs.writer(INST, 'web');
      for (let i = 0; i < 100; i++) w.write('stdout', 'server', Buffer.from(`line ${round * 100 + i}\n`));
      logs.close();
    }
    const [first, ...rest] = lines(await collect(new InstanceLogs(dir, { maxBytes: 2000, keepFiles: 2 })));
    expect(rest.at(-1)).toBe('line 199');
    expect(first).toContain(`the first ${200 - rest.length} lines`);
  });

  it('history survives a restart (a new InstanceLogs over the same directory), and appends go after it', async () => {
    const first = new InstanceLogs(dir, { maxBytes: 2000 });
    const w = first.writer(INST, 'web');
    for (let i = 0; i < 30; i++) w.write('stdout', 'server', Buffer.from(`a${i}\n`));
    // A torn last line, as a crash mid-write would leave.
    fs.appendFileSync(path.join(dir, `${INST}.ndjson`), '{"ts":"2026');
    first.close();
    const second = new InstanceLogs(dir, { maxBytes: 2000 });
    second.writer(INST, 'web').write('stdout', 'server', Buffer.from('b\n'));
    const got = lines(await collect(second));
    expect(got).toEqual([...Array.from({ length: 30 }, (_, i) => `a${i}`), 'b']);
  });

  it('tail, since and source filter the history', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    for (let i = 0; i < 10; i++) w.write('stdout', i % 2 ? 'exec' : 'server', Buffer.from(`${i}\n`));
    expect(lines(await collect(logs, { tail: 3 }))).toEqual(['7', '8', '9']);
    expect(lines(await collect(logs, { tail: 0 }))).toEqual([]);
    expect(lines(await collect(logs, { source: ['exec'] }))).toEqual(['1', '3', '5', '7', '9']);
    expect(lines(await collect(logs, { source: ['server'], tail: 2 }))).toEqual(['6', '8']);
    expect(await collect(logs, { since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await collect(logs, { since: new Date(Date.now() - 60_000) })).toHaveLength(10);
  });

  it('since compares entry times', async () => {
    const file = path.join(dir, `${INST}.ndjson`);
    const e = (ts: string, line: string) => JSON.stringify({ ts, stream: 'stdout', source: 'server', instance: INST, app: 'web', line }) + '\n';
    fs.writeFileSync(file, e('2026-01-01T00:00:00.000Z', 'old') + e('2026-02-01T00:00:00.000Z', 'new'));
    const logs = new InstanceLogs(dir);
    expect(lines(await collect(logs, { since: new Date('2026-01-15T00:00:00Z') }))).toEqual(['new']);
  });

  it('a follower gets the history, then live lines as they are written', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    w.write('stdout', 'server', Buffer.from('before\n'));
    const f = follow(logs);
    await until(() => f.got.length === 1, 'history');
    expect(logs.followers(INST)).toBe(1);
    w.write('stdout', 'server', Buffer.from('live 1\nlive '));
    await until(() => f.got.length === 2, 'first live line');
    w.write('stdout', 'server', Buffer.from('2\n'));
    await until(() => f.got.length === 3, 'second live line');
    await f.stop();
    expect(lines(f.got)).toEqual(['before', 'live 1', 'live 2']);
    expect(logs.followers(INST)).toBe(0);
  });

  it('follow with tail gives the last N of history, then every live line', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    for (let i = 0; i < 5; i++) w.write('stdout', 'server', Buffer.from(`h${i}\n`));
    const f = follow(logs, { tail: 2 });
    await until(() => f.got.length === 2, 'tail');
    for (let i = 0; i < 3; i++) w.write('stdout', 'server', Buffer.from(`l${i}\n`));
    await until(() => f.got.length === 5, 'live');
    await f.stop();
    expect(lines(f.got)).toEqual(['h3', 'h4', 'l0', 'l1', 'l2']);
  });

  it('a follower started before the instance has a file receives everything from the first line', async () => {
    // Small files, so the first lines rotate out of the current file before the reader gets to them.
    const logs = new InstanceLogs(dir, { maxBytes: 4000 });
    const f = follow(logs);
    await new Promise((r) => setTimeout(r, 20));
    const w = logs.writer(INST, 'web');
    for (let i = 0; i < 50; i++) w.write('stdout', 'boot', Buffer.from(`boot ${i}\n`));
    await until(() => f.got.length === 50, 'all lines');
    await f.stop();
    expect(lines(f.got)).toEqual(Array.from({ length: 50 }, (_, i) => `boot ${i}`));
    expect(fs.existsSync(path.join(dir, `${INST}.ndjson.1`))).toBe(true);
  });

  it('a follower keeps every line across rotations', async () => {
    const logs = new InstanceLogs(dir, { maxBytes: 4096, keepFiles: 2 });
    const w = logs.writer(INST, 'web');
    const f = follow(logs);
    const n = 2000;
    for (let i = 0; i < n; i++) {
      w.write('stdout', 'server', Buffer.from(`${i}\n`));
      // Keep the reader within about a file of the writer: a reader more than the kept files behind rightly gets a gap line instead.
      if (i % 20 === 0) await until(() => f.got.length >= i - 40, 'reader to keep up');
    }
    await until(() => f.got.at(-1)?.line === String(n - 1), 'last line');
    await f.stop();
    expect(lines(f.got)).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(fs.existsSync(path.join(dir, `${INST}.ndjson.2`))).toBe(true);
  });

  it('a slow reader gets every line of a 100 000-line burst', async () => {
    const logs = new InstanceLogs(dir);
    const w = logs.writer(INST, 'web');
    let seen = 0;
    const f = follow(logs, {}, async () => {
      // Slow: yield to the event loop on every entry, and sleep now and then.
      if (++seen % 5000 === 0) await new Promise((r) => setTimeout(r, 5));
      else await new Promise((r) => setImmediate(r));
    });
    const n = 100_000;
    const block = 1000;
    for (let i = 0; i < n; i += block) {
      const text = Array.from({ length: block }, (_, j) => `burst line ${i + j} ${'x'.repeat(40)}`).join('\n') + '\n';
      w.write('stdout', 'server', Buffer.from(text));
    }
    await until(() => f.got.length === n, `${n} lines`, 60_000);
    await f.stop();
    for (let i = 0; i < n; i++) if (!f.got[i].line.startsWith(`burst line ${i} `)) throw new Error(`line ${i} is ${f.got[i].line}`);
    // The burst crossed the default rotation size: the reader followed across it.
    expect(fs.existsSync(path.join(dir, `${INST}.ndjson.1`))).toBe(true);
  }, 60_000);

  it('a follower more files behind than are kept is told of the gap, then continues', async () => {
    const logs = new InstanceLogs(dir, { maxBytes: 500, keepFiles: 1 });
    const w = logs.writer(INST, 'web');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const f = follow(logs, {}, async () => {
      if (first) await gate; // stalls after its first entry while the writer rotates many times
      first = false;
    });
    w.write('stdout', 'server', Buffer.from('first\n'));
    await until(() => f.got.length === 1, 'first line');
    for (let i = 0; i < 200; i++) w.write('stdout', 'server', Buffer.from(`${i}\n`));
    release();
    await until(() => f.got.at(-1)?.line === '199', 'last line');
    await f.stop();
    const gap = f.got.find((e) => e.source === 'system');
    expect(gap?.line).toMatch(/fell \d+ log file\(s\) behind/);
    // After the gap, what it reads is in order.
    const after = f.got.slice(f.got.indexOf(gap!) + 1).map((e) => Number(e.line));
    expect(after).toEqual(Array.from({ length: after.length }, (_, i) => after[0] + i));
  });

  it('remove deletes the files and ends followers', async () => {
    const logs = new InstanceLogs(dir, { maxBytes: 1000 });
    const w = logs.writer(INST, 'web');
    for (let i = 0; i < 20; i++) w.write('stdout', 'server', Buffer.from(`${i}\n`));
    const abort = new AbortController();
    const reading = (async () => {
      const got: InstanceLogEntry[] = [];
      for await (const e of logs.read(INST, { follow: true, signal: abort.signal })) got.push(e);
      return got;
    })();
    await new Promise((r) => setTimeout(r, 20));
    logs.remove(INST);
    expect((await reading).length).toBe(20);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses an instance key that is not a plain id', () => {
    const logs = new InstanceLogs(dir);
    expect(() => logs.writer('../x', 'web')).toThrow(/invalid instance log key/);
  });
});
