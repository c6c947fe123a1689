// Flow control on one session: a paused reader slows its own guest process and nobody else.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../src/vmm/channel/control-client.js';
import { buildHarness, collect, run, startHarness, waitFor, type RunningHarness } from './harness-fixture.js';

let harness: RunningHarness;
let client: ControlClient;

beforeAll(async () => {
  harness = await startHarness(await buildHarness());
  client = await harness.connect();
});

afterAll(async () => {
  await client?.close();
  await harness?.stop();
});

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} blocked for ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('flow control', () => {
  it('runs an exec to completion while another floods output into a paused reader', async () => {
    const flood = client.exec({ argv: ['yes', 'flood-line'], env: {}, stdin: false });
    flood.stderr.resume();
    // Nobody reads flood.stdout: its buffer fills and the stream stops.
    await waitFor(() => flood.stdout.readableLength > 0, { what: 'flood output' });
    await new Promise((r) => setTimeout(r, 200));

    const quick = await within(run(client, ['echo', 'still-moving']), 3000, 'a second exec');
    expect(quick.stdout.toString()).toBe('still-moving\n');
    expect(quick.exit.code).toBe(0);
    const health = await within(client.health(), 3000, 'health');
    expect(health.execs.map((e) => e.argv0)).toContain('yes');

    await flood.signal('SIGKILL');
    flood.stdout.resume();
    expect((await flood.exit).signal).toBe('SIGKILL');
  });

  it('slows the guest process instead of buffering without bound', async () => {
    const total = 32 * 1024 * 1024;
    const big = client.exec({ argv: ['head', '-c', String(total), '/dev/zero'], env: {}, stdin: false });
    big.stderr.resume();
    const pid = await big.pid;
    await waitFor(() => big.stdout.readableLength > 0, { what: 'first output' });
    await new Promise((r) => setTimeout(r, 500));

    // The producer is still running: its pipe is full because the host reader is paused.
    const health = await client.health();
    expect(health.execs.map((e) => e.pid)).toContain(pid);
    expect(big.stdout.readableLength).toBeLessThan(2 * 1024 * 1024);

    const out = await collect(big.stdout);
    expect(out.length).toBe(total);
    expect((await big.exit).code).toBe(0);
  });

  it('does not pull stdin faster than the guest process reads it', async () => {
    const total = 32 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let pulled = 0;
    const source = new Readable({
      read() {
        if (pulled >= total) return void this.push(null);
        pulled += chunk.length;
        this.push(chunk);
      },
    });
    // The child sleeps before reading: everything pulled meanwhile sits in buffers along the way.
    const handle = client.exec({ argv: ['sh', '-c', 'sleep 0.7; wc -c'], env: {}, stdin: true }, { stdin: source });
    handle.stderr.resume();
    const out = collect(handle.stdout);
    await new Promise((r) => setTimeout(r, 500));
    expect(pulled).toBeLessThan(4 * 1024 * 1024);
    expect((await out).toString().trim()).toBe(String(total));
    expect((await handle.exit).code).toBe(0);
  });

  it('runs many execs concurrently on one session', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => run(client, ['sh', '-c', `sleep 0.2; echo ${i}; echo e${i} >&2; exit ${i % 7}`])),
    );
    results.forEach((r, i) => {
      expect(r.stdout.toString()).toBe(`${i}\n`);
      expect(r.stderr.toString()).toBe(`e${i}\n`);
      expect(r.exit.code).toBe(i % 7);
    });
  });
});
