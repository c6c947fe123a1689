// Issue 21, item 4: the daemon buffered whatever a guest sent (a 256 MiB error body on one router request
// cost aegisd ~1 GiB). A hostile harness (test/security/hostile-harness.mjs, its own process) attacks the
// host side of the control channel; this test process plays the daemon. Every attack must fail fast with
// a ChannelError that names the limit, grow our RSS by less than RSS_BOUND_MIB, and leave a second,
// well-behaved channel (a real harness) working meanwhile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceLogs } from '../../src/logs/instance-log.js';
import type { ExecExit } from '../../src/protocol/messages.js';
import { startRouter } from '../../src/router/router.js';
import { ChannelError, type ControlClient } from '../../src/vmm/channel/control-client.js';
import { buildHarness, startHarness, waitFor, type RunningHarness } from '../harness/harness-fixture.js';
import { request } from '../router/client.js';
import { expectContained, hostileInstance, killPeers, MiB, startHostile, underAttack } from './support/hostile-peer.js';

let harness: RunningHarness;
let good: ControlClient;

function expectViolation(err: unknown, message: RegExp): void {
  expect(err).toBeInstanceOf(ChannelError);
  expect((err as ChannelError).code).toBe('PROTOCOL_VIOLATION');
  expect((err as ChannelError).message).toMatch(/^the machine broke the control protocol: /);
  expect((err as ChannelError).message).toMatch(message);
}

/** An exec's outcome as one promise: its exit, and why its pid never came. */
async function execOutcome(client: ControlClient): Promise<{ exit: ExecExit; pidError: unknown }> {
  const h = client.exec({ argv: ['server'], env: {}, stdin: false });
  h.stdout.resume();
  h.stderr.resume();
  const pidError = await h.pid.then(
    () => undefined,
    (err: unknown) => err,
  );
  return { exit: await h.exit, pidError };
}

beforeAll(async () => {
  harness = await startHarness(await buildHarness());
  good = await harness.connect();
});

afterAll(async () => {
  await good?.close();
  await harness?.stop();
  killPeers();
});

describe('a hostile harness cannot make the daemon buffer without bound', () => {
  it('(a) a forward refused with a 256 MiB error body fails at the 64 KiB limit', async () => {
    const peer = await startHostile('error-body');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => client.forward(8080));
    expectViolation(outcome.error, /the forward error reply is longer than the 65536-byte limit/);
    expectContained(outcome);
    // The session is ended, not just the stream: nothing more is read from this machine.
    await client.closed;
    expect(client.protocolViolation).toBe(outcome.error);
    await expect(client.health()).rejects.toBe(outcome.error);
    await waitFor(() => peer.reports.some((r) => r.route === 'forward'), { what: 'the peer to see its stream cut' });
    expect(peer.reports.find((r) => r.route === 'forward')!.sent).toBeLessThan(8 * MiB);
    await peer.stop();
  });

  it('(a) an exec refused with a 256 MiB error body fails at the 64 KiB limit', async () => {
    const peer = await startHostile('error-body');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => execOutcome(client));
    const { exit, pidError } = outcome.value!;
    expectViolation(pidError, /the exec error reply is longer than the 65536-byte limit/);
    expect(exit).toEqual({ code: null, signal: null, error: (pidError as Error).message });
    expectContained(outcome);
    await peer.stop();
  });

  it('(b) a JSON reply that never ends fails at the 1 MiB limit', async () => {
    const peer = await startHostile('endless-json');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => client.health());
    expectViolation(outcome.error, /the health reply is longer than the 1048576-byte limit/);
    expectContained(outcome);
    await peer.stop();
  });

  it('(b) a JSON reply that trickles forever fails at its deadline', async () => {
    const peer = await startHostile('slow-json');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => client.health({ timeoutMs: 1_000 }));
    expect(outcome.error).toMatchObject({ code: 'TIMEOUT', message: 'health got no complete reply from the harness within 1000 ms' });
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(900);
    expectContained(outcome, 3_000);
    // Slow is not proof of hostility: the session lives on.
    expect(client.protocolViolation).toBeUndefined();
    expect(client.isClosed).toBe(false);
    await client.close();
    await peer.stop();
  });

  it('(c) exec streams of endless frames declaring 16 MiB each fail at the 1 MiB frame limit', async () => {
    const peer = await startHostile('huge-frames');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => Promise.all(Array.from({ length: 8 }, () => execOutcome(client))));
    for (const { exit } of outcome.value!) expect(exit.error).toMatch(/frame payload of 16777216 bytes exceeds 1048576/);
    expectViolation(outcome.value![0].pidError, /exec stream: frame payload of 16777216 bytes exceeds 1048576/);
    expectContained(outcome);
    await peer.stop();
  });

  it('(c) a frame declaring 4 GiB fails at once', async () => {
    const peer = await startHostile('absurd-frames');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => execOutcome(client));
    expectViolation(outcome.value!.pidError, /frame payload of 4294967280 bytes exceeds 1048576/);
    expectContained(outcome);
    await peer.stop();
  });

  it('a started frame that is not JSON fails the exec instead of crashing the daemon', async () => {
    const peer = await startHostile('bad-frame');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => execOutcome(client));
    expectViolation(outcome.value!.pidError, /exec stream: bad frame of type 1/);
    expectContained(outcome);
    await peer.stop();
  });

  it('(d) 128 KB of reply headers fail health, forward and exec', async () => {
    const peer = await startHostile('huge-headers');
    const calls: [string, (c: ControlClient) => Promise<unknown>][] = [
      ['health', (c) => c.health()],
      ['forward', (c) => c.forward(8080)],
      ['exec', async (c) => (await execOutcome(c)).pidError],
    ];
    for (const [route, call] of calls) {
      const client = await peer.connect();
      const outcome = await underAttack(good, async () => {
        const r = await call(client);
        if (r instanceof Error) throw r; // exec: its pid's failure
        return r;
      });
      expectViolation(outcome.error, new RegExp(`the ${route} reply.s headers (\\(\\d+ bytes\\) exceed the 16384-byte limit|exceed the HTTP/2 limits)`));
      expectContained(outcome);
    }
    await peer.stop();
  });

  it('(d) 128 KB of headers on the first reply, before HTTP/2 settings apply, fail the connect', async () => {
    const peer = await startHostile('huge-greeting');
    const outcome = await underAttack(good, () => peer.connect());
    expectViolation(outcome.error, /the health reply's headers \(\d+ bytes\) exceed the 16384-byte limit/);
    expectContained(outcome);
    await peer.stop();
  });

  it('(d) more reply header fields than allowed fail the call', async () => {
    const peer = await startHostile('many-headers');
    const client = await peer.connect();
    const outcome = await underAttack(good, () => client.forward(8080));
    expectViolation(outcome.error, /the forward reply.s headers exceed the HTTP\/2 limits \(16384 bytes, 32 fields\)/);
    expectContained(outcome);
    await peer.stop();
  });

  it('an exec the harness never answers fails at its start deadline', async () => {
    const peer = await startHostile('silent');
    const client = await peer.connect();
    const outcome = await underAttack(good, async () => {
      const h = client.exec({ argv: ['server'], env: {}, stdin: false }, { startTimeoutMs: 500 });
      const pidError = await h.pid.catch((err: unknown) => err);
      return { exit: await h.exit, pidError };
    });
    expect(outcome.value!.pidError).toMatchObject({ code: 'TIMEOUT', message: 'exec: the harness did not start the process within 500 ms' });
    expect(outcome.value!.exit.error).toBe('exec: the harness did not start the process within 500 ms');
    expectContained(outcome, 2_000);
    await peer.stop();
  });
});

describe('through the router and the instance lifecycle', () => {
  it('a request to an app whose harness sends a 256 MiB error body gets a 502 naming the limit, and the instance fails', async () => {
    const peer = await startHostile('error-body', 'exec=serve');
    const logged: string[] = [];
    const { runtime, directory, cleanup } = hostileInstance(peer, { write: () => {}, system: (m) => logged.push(m) });
    const router = await startRouter(directory, { port: 0 });
    try {
      const outcome = await underAttack(good, () => request(router.port, '/app/evil/'));
      expect(outcome.value!.status).toBe(502);
      expect(outcome.value!.body).toMatch(/the machine broke the control protocol: the forward error reply is longer than the 65536-byte limit/);
      expectContained(outcome);
      // The machine is stopped and the instance failed, with the reason where `aegis instance info` shows it.
      await waitFor(() => runtime.state === 'failed', { what: 'the instance to fail' });
      expect(runtime.status).toMatchObject({ state: 'failed', reason: 'ProtocolViolation' });
      expect(runtime.status.message).toMatch(/forward error reply is longer than the 65536-byte limit/);
      expect(logged.join('\n')).toMatch(/server was lost \(the machine broke the control protocol: /);
      // It is not retried at once: the next request waits out the backoff.
      const next = await request(router.port, '/app/evil/');
      expect(next.status).toBe(503);
    } finally {
      await router.close();
      await cleanup();
      await peer.stop();
    }
  });

  it('a server printing endless newlines is logged a slice at a time: the daemon stays responsive', async () => {
    const peer = await startHostile('serve', 'exec=newline-flood');
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-hostile-logs-'));
    const logs = new InstanceLogs(logDir);
    const writer = logs.writer('inst-evil', 'evil');
    const { runtime, cleanup } = hostileInstance(peer, writer);
    try {
      await runtime.wake();
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const outcome = await underAttack(good, () => new Promise((r) => setTimeout(r, 1_500)));
      lag.disable();
      // Each 1 MiB frame of newlines is a million log entries: written whole, it held the loop for seconds.
      expect(lag.max / 1e6).toBeLessThan(250);
      expectContained(outcome);
      expect(outcome.goodRuns).toBeGreaterThanOrEqual(5);
      expect(fs.statSync(path.join(logDir, 'inst-evil.ndjson')).size).toBeGreaterThan(0);
    } finally {
      await cleanup();
      writer.close();
      logs.remove('inst-evil');
      await peer.stop();
      fs.rmSync(logDir, { recursive: true, force: true });
    }
  });
});
