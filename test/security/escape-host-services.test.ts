// Attack: a workload reaches for the services of the host that runs it: a daemon's API socket (which
// starts machines with any image and mounts) and its router (every app's HTTP), on the host's loopback or
// any address of the host. A sandbox machine has a network namespace of its own (only lo), and the
// socket is a path of the host's filesystem, which the guest does not see.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUEST_GATEWAY, guestNetworkSupport } from '../../src/vmm/sandbox/guest-network.js';
import { withTempHome, type TempHome } from '../support/temp-home.js';
import { guestRun, sandboxFixture, type Booted, type SandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';
import { installAttackPrograms } from './support/attack-programs.js';

describe("a running daemon's socket and router, from inside a machine", () => {
  let t: TempHome;
  let fx: SandboxFixture;
  let m: Booted;
  let routerPort: string;

  beforeAll(async () => {
    t = withTempHome();
    expect((await t.aegis(['up'])).code).toBe(0);
    routerPort = new URL((await t.api('GET', '/v1/status')).body.router as string).port;
    fx = await sandboxFixture();
    const workspace = fs.mkdtempSync(path.join(fx.home, 'ws-'));
    installAttackPrograms(workspace, ['connect-probe']);
    m = await fx.boot({ workspaceDir: workspace });
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
    await t?.dispose();
  });

  it('cannot reach the router, on the host loopback or any host address', async () => {
    const hostAddresses = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a?.family === 'IPv4')
      .map((a) => a!.address);
    expect(hostAddresses).toContain('127.0.0.1');
    for (const address of hostAddresses) {
      const r = await guestRun(m.client, ['/workspace/connect-probe', 'tcp', address, routerPort]);
      // The guest's own loopback has nothing listening there. Every other address has no route (no network),
      // or its connection goes nowhere (slirp4netns's connects to host addresses are refused by the egress filter).
      if (address === '127.0.0.1') expect(r.out, address).toBe('ECONNREFUSED\n');
      else expect(r.out, address).toMatch(/^(ENETUNREACH|ETIMEDOUT)\n$/);
    }
  });

  it('gets no answer to a ping of any host address: the network helper makes no ICMP or raw socket, which no address filter would see', async () => {
    // The gateway answers pings itself (slirp does, inside its own stack): the probe sees a reply when one comes.
    if (guestNetworkSupport().supported) expect((await guestRun(m.client, ['/workspace/connect-probe', 'ping', GUEST_GATEWAY])).out).toBe('connected\n');
    const hostAddresses = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a?.family === 'IPv4' && !a.internal)
      .map((a) => a!.address);
    for (const address of hostAddresses) expect((await guestRun(m.client, ['/workspace/connect-probe', 'ping', address])).out, address).not.toBe('connected\n');
  });

  it('cannot see or connect to the daemon socket', async () => {
    const socket = path.join(t.home, 'aegisd.sock');
    expect(fs.statSync(socket).isSocket()).toBe(true);
    expect((await guestRun(m.client, ['/workspace/connect-probe', 'unix', socket])).out).toBe('ENOENT\n');
    expect((await guestRun(m.client, ['ls', '-d', t.home])).code).not.toBe(0);
    // Unix sockets the guest can list are its network namespace's own: none of the host's.
    expect((await guestRun(m.client, ['cat', '/proc/net/unix'])).out).not.toContain('aegisd');
  });
});
