import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogFile } from '../../../src/logs/log-file.js';

async function collect(gen: AsyncGenerator<Buffer>): Promise<string[]> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(b);
  return Buffer.concat(parts).toString().split('\n').filter(Boolean);
}

describe('LogFile', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-log-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a follower started before any output receives everything in order, then ends on close', async () => {
    const log = new LogFile(path.join(dir, 't.ndjson'));
    const reading = collect(log.read({ follow: true }));
    for (let i = 0; i < 1000; i++) {
      log.append({ ts: 't', stream: 'stdout', text: `${i}\n` });
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    log.close();
    const lines = await reading;
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => JSON.parse(l).text)).toEqual(Array.from({ length: 1000 }, (_, i) => `${i}\n`));
  });

  it('a reader without follow gets what is there and stops', async () => {
    const log = new LogFile(path.join(dir, 't.ndjson'));
    log.append({ ts: 't', stream: 'stdout', text: 'a' });
    expect(await collect(log.read({ follow: false }))).toHaveLength(1);
  });

  it('an aborted follower stops without the log closing', async () => {
    const log = new LogFile(path.join(dir, 't.ndjson'));
    const abort = new AbortController();
    const reading = collect(log.read({ follow: true, signal: abort.signal }));
    log.append({ ts: 't', stream: 'stdout', text: 'x' });
    await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    expect(await reading).toHaveLength(1);
    expect(log.isClosed).toBe(false);
  });

  it('reopens a finished log of an earlier daemon as closed', async () => {
    const file = path.join(dir, 't.ndjson');
    const log = new LogFile(file);
    log.append({ ts: 't', stream: 'stdout', text: 'kept' });
    log.close();
    const again = LogFile.openExisting(file)!;
    expect(again.isClosed).toBe(true);
    expect(await collect(again.read({ follow: true }))).toHaveLength(1);
    expect(LogFile.openExisting(path.join(dir, 'missing'))).toBeUndefined();
  });
});
