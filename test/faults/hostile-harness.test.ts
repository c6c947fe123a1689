// A hostile harness peer (test/security/hostile-harness.mjs) behind a real router and instance runtime, for
// what test/security/guest-channel.test.ts does not already cover: malformed HTTP/2 in the middle of a session,
// a forward whose guest end never reads, and one that answers without end. Meanwhile a well-behaved machine
// (a real harness) keeps running commands.
// Invariant: the daemon's memory stays bounded and the other machine is served throughout; a machine that
// breaks the protocol is stopped and its instance marked failed with the reason. (A guest that reads slowly,
// or sends a long answer, is within its rights: it is held back, not failed.)
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRouter, type RunningRouter } from '../../src/router/router.js';
import type { ControlClient } from '../../src/vmm/channel/control-client.js';
import { buildHarness, startHarness, waitFor, type RunningHarness } from '../harness/harness-fixture.js';
import { request } from '../router/client.js';
import { expectContained, hostileInstance, killPeers, MiB, startHostile, underAttack, type HostilePeer } from '../security/support/hostile-peer.js';

/** The well-behaved machine runs a command every so often while an attack lasts (seconds, here). */
const PACE_MS = 100;

let harness: RunningHarness;
let good: ControlClient;

beforeAll(async () => {
  harness = await startHarness(await buildHarness());
  good = await harness.connect();
});

afterAll(async () => {
  await good?.close();
  await harness?.stop();
  killPeers();
});

/** A router in front of one instance whose harness is `peer`; what the instance logged as system lines. */
async function servedBy(peer: HostilePeer) {
  const logged: string[] = [];
  const instance = hostileInstance(peer, { write: () => {}, system: (m) => logged.push(m) });
  const router = await startRouter(instance.directory, { port: 0 });
  return {
    ...instance,
    router,
    logged,
    async close() {
      await router.close();
      await instance.cleanup();
      await peer.stop();
    },
  };
}

/** Opens a raw connection to the router and sends `head`; the socket is returned paused (nothing read). */
function rawClient(router: RunningRouter, head: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(router.port, '127.0.0.1', () => {
      s.write(head);
      resolve(s);
    });
    s.pause();
    s.once('error', reject);
  });
}

describe('a hostile harness peer through the router and the instance lifecycle', () => {
  it('malformed HTTP/2 in mid-session: the request fails at its deadline, the machine is stopped and its instance failed', async () => {
    // nghttp2 answers the garbage with GOAWAY and goes quiet; Node says nothing, so the forward waits out its
    // 10 s deadline, and the PING that follows (session-liveness.ts) finds the session dead.
    const served = await servedBy(await startHostile('garbage', 'exec=serve'));
    try {
      const outcome = await underAttack(good, async () => {
        const reply = await request(served.router.port, '/app/evil/');
        await waitFor(() => served.runtime.state === 'failed', { what: 'the instance to fail', timeoutMs: 5_000 });
        return reply;
      }, PACE_MS);
      expect(outcome.value?.status, String(outcome.error)).toBe(502);
      expectContained(outcome, 15_000);
      expect(served.runtime.status).toMatchObject({ state: 'failed', reason: 'ProtocolViolation' });
      expect(served.runtime.status.message).toMatch(/no HTTP\/2 PING acknowledgement within 2000 ms after forward timed out/);
      expect(served.logged.join('\n')).toMatch(/server was lost \(the machine broke the control protocol: /);
    } finally {
      await served.close();
    }
  });

  it('a forward whose guest never reads: a 64 MiB upload is held back at the window, memory stays bounded', async () => {
    const served = await servedBy(await startHostile('never-read', 'exec=serve'));
    const lag = monitorEventLoopDelay({ resolution: 10 });
    try {
      const total = 64 * MiB;
      const chunk = Buffer.alloc(MiB, 0x62);
      let client: net.Socket | undefined;
      lag.enable();
      const outcome = await underAttack(good, async () => {
        client = await rawClient(served.router, `POST /app/evil/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${total}\r\n\r\n`);
        // Write as fast as the router takes it, for two seconds.
        const until = Date.now() + 2_000;
        let offered = 0;
        while (Date.now() < until && offered < total) {
          offered += chunk.length;
          if (!client.write(chunk)) await Promise.race([new Promise((r) => client!.once('drain', r)), new Promise((r) => setTimeout(r, until - Date.now()))]);
        }
        return client.bytesWritten;
      }, PACE_MS);
      lag.disable();
      expectContained(outcome);
      // What left the client sits in kernel buffers and one HTTP/2 window, not in the daemon.
      expect(outcome.value!, 'bytes the router accepted from the upload').toBeLessThan(32 * MiB);
      expect(lag.max / 1e6, 'event loop delay while held back (ms)').toBeLessThan(250);
      // Slow is not hostile: the instance is still up.
      expect(served.runtime.state).not.toBe('failed');
      client?.destroy();
    } finally {
      await served.close();
    }
  });

  it('a forward that answers without end, to a client that never reads: held back, memory stays bounded', async () => {
    const served = await servedBy(await startHostile('endless-forward', 'exec=serve'));
    try {
      let client: net.Socket | undefined;
      const outcome = await underAttack(good, async () => {
        client = await rawClient(served.router, 'GET /app/evil/ HTTP/1.1\r\nHost: localhost\r\n\r\n');
        await new Promise((r) => setTimeout(r, 3_000));
      }, PACE_MS);
      expectContained(outcome);
      client?.destroy();
    } finally {
      await served.close();
    }
  });
});
