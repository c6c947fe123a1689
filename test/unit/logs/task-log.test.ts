// Unit tests for task-log.ts: followers get everything and end on close; the log stays within its cap, keeping the
// newest output, and a reader is told by a system line when output it would have read was dropped.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskLog } from '../../../src/logs/task-log.js';
import type { LogEntry } from '../../../src/logs/log-entry.js';

async function collect(gen: AsyncGenerator<Buffer>): Promise<LogEntry[]> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(b);
  return Buffer.concat(parts).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogEntry);
}

const storedBytes = (dir: string) => fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);

describe('TaskLog', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-log-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a follower started before any output receives everything in order, then ends on close', async () => {
    const log = new TaskLog(path.join(dir, 't.ndjson'), 1024 ** 2);
    const reading = collect(log.read({ follow: true }));
    for (let i = 0; i < 1000; i++) {
      log.append({ ts: 't', stream: 'stdout', text: `${i}\n` });
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    log.close();
    const entries = await reading;
    expect(entries.map((e) => e.text)).toEqual(Array.from({ length: 1000 }, (_, i) => `${i}\n`));
  });

  it('an aborted follower stops without the log closing', async () => {
    const log = new TaskLog(path.join(dir, 't.ndjson'), 1024 ** 2);
    const abort = new AbortController();
    const reading = collect(log.read({ follow: true, signal: abort.signal }));
    log.append({ ts: 't', stream: 'stdout', text: 'x' });
    await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    expect(await reading).toHaveLength(1);
  });

  it('keeps within its cap: the newest output and the exit stay, and a reader is told how much was dropped', async () => {
    const cap = 64 * 1024;
    const log = new TaskLog(path.join(dir, 't.ndjson'), cap);
    const line = 'y'.repeat(99) + '\n';
    for (let i = 0; i < 5000; i++) log.append({ ts: 't', stream: 'stdout', text: line });
    log.append({ ts: 't', stream: 'system', exit: { code: 0, signal: null } });
    log.close();
    expect(storedBytes(dir)).toBeLessThanOrEqual(cap);

    const entries = await collect(log.read({ follow: false }));
    const [notice, ...rest] = entries;
    expect(notice).toMatchObject({ stream: 'system', text: expect.stringMatching(/^aegis: the first \d+(\.\d)?KiB of this task's output were dropped \(task logs keep the newest 64KiB: limits\.taskLog\)$/) });
    expect(rest.at(-1)?.exit).toEqual({ code: 0, signal: null });
    const kept = rest.filter((e) => e.text !== undefined).length;
    expect(kept).toBeGreaterThan(0);
    expect(rest.filter((e) => e.stream === 'system' && e.text !== undefined)).toHaveLength(0);
  });

  it('a follower that keeps up through rotations misses nothing and sees no notice', async () => {
    const log = new TaskLog(path.join(dir, 't.ndjson'), 16 * 1024);
    const got: LogEntry[] = [];
    const reading = (async () => {
      for await (const b of log.read({ follow: true })) got.push(JSON.parse(b.toString()) as LogEntry);
    })();
    for (let i = 0; i < 2000; i++) {
      log.append({ ts: 't', stream: 'stdout', text: `${i}\n` });
      // Keeping up: the writer waits for the reader every 50 lines, well within one file.
      if (i % 50 === 49) while (got.length < i + 1) await new Promise((r) => setTimeout(r, 1));
    }
    log.close();
    await reading;
    expect(got.map((e) => e.text)).toEqual(Array.from({ length: 2000 }, (_, i) => `${i}\n`));
  });

  it('a follower that falls a whole cap behind is told how many files it missed', async () => {
    const log = new TaskLog(path.join(dir, 't.ndjson'), 16 * 1024);
    log.append({ ts: 't', stream: 'stdout', text: 'first\n' });
    const reader = log.read({ follow: true });
    expect(JSON.parse((await reader.next()).value!.toString()).text).toBe('first\n');
    // The reader stops pulling while the writer goes through many files.
    for (let i = 0; i < 2000; i++) log.append({ ts: 't', stream: 'stdout', text: `${i}\n` });
    log.close();
    const rest: LogEntry[] = [];
    for await (const b of reader) rest.push(JSON.parse(b.toString()) as LogEntry);
    const notice = rest.find((e) => e.stream === 'system');
    expect(notice?.text).toMatch(/^aegis: this reader fell behind the task's output; \d+ log file\(s\) of it were dropped before it read them \(task logs keep 16KiB: limits\.taskLog\)$/);
    expect(rest.at(-1)?.text).toBe('1999\n');
  });

  it('a finished log of an earlier daemon reads as closed, rotated files and all', async () => {
    const file = path.join(dir, 't.ndjson');
    const log = new TaskLog(file, 8 * 1024);
    for (let i = 0; i < 500; i++) log.append({ ts: 't', stream: 'stdout', text: `${i}\n` });
    log.close();
    const again = new TaskLog(file, 8 * 1024);
    again.close();
    const entries = await collect(again.read({ follow: true }));
    expect(entries[0]?.stream).toBe('system');
    expect(entries.at(-1)?.text).toBe('499\n');
    again.remove();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
