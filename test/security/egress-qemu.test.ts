// Issue 14 on qemu: each VM's slirp sockets are filtered by a cgroup of the VM's own, holding the VM's
// policy (no longer one shared `aegis-qemu` filter for every VM). One real VM (TCG here) with an allow-list,
// against the fake internet. The sandbox side, and every policy through the CLI: egress-policy.test.ts.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/vmm/channel/control-client.js';
import { egressFilterSupport } from '../../src/vmm/network/egress-filter.js';
import { egressCgroupPrefix } from '../../src/vmm/network/machine-egress.js';
import { qemuMachineDirs } from '../../src/vmm/qemu/machine-state.js';
import type { QemuMachine } from '../../src/vmm/qemu/qemu-machine.js';
import { BOOT_MS, hasQemu, qemuFixture, runInGuest, type QemuFixture } from '../vmm/qemu/qemu-fixture.js';
import { fakeInternet, type FakeInternet } from './support/fake-internet.js';

describe.skipIf(!hasQemu || !egressFilterSupport().supported)('qemu egress under a per-VM policy (a real VM)', () => {
  let fx: QemuFixture;
  let inet: FakeInternet;
  let machine: QemuMachine;
  let client: ControlClient;
  let loopback: http.Server;
  let loopbackPort: number;
  let loopbackHits = 0;

  beforeAll(async () => {
    inet = await fakeInternet();
    // An HTTP server, so that wget would print its answer if it got one.
    loopback = http.createServer((_req, res) => {
      loopbackHits++;
      res.end('hello from the host\n');
    });
    await new Promise<void>((r) => loopback.listen(0, '127.0.0.1', r));
    loopbackPort = (loopback.address() as net.AddressInfo).port;
    fx = await qemuFixture('ae-qeg-');
    machine = await fx.backend.start({
      id: 'qeg',
      hostname: 'qeg',
      rootfsLayers: [fx.baseRootfs],
      memoryMiB: 128,
      vcpus: 1,
      network: { egress: [`${inet.publicA}:80`, `${inet.privateA}`] },
    });
    client = await ControlClient.connect(await machine.connect(BOOT_MS), { timeoutMs: BOOT_MS });
  }, 180_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    if (machine) await fx.backend.destroy(machine.id);
    if (fx) fs.rmSync(fx.home, { recursive: true, force: true });
    loopback?.close();
    inet?.close();
  });

  it("runs qemu in the VM's own egress cgroup, which goes with the VM", async () => {
    const cgroup = fs.readFileSync(`/proc/${machine.pid}/cgroup`, 'utf8');
    expect(cgroup).toContain(`0::/${egressCgroupPrefix(qemuMachineDirs(fx.paths.machines, 'qeg').dir, 'qeg')}`);
  });

  it('reaches what the list names, and nothing else: not another public address, port, the LAN or the host', async () => {
    const probe = (label: string, url: string) => `(r=$(timeout 5 wget -qO- ${url} 2>/dev/null) && echo "${label}: $r" || echo "${label}: blocked") &`;
    const script = [
      probe('listed', `http://${inet.publicA}/`),
      probe('other-port', `http://${inet.publicA}:8080/`),
      probe('unlisted', `http://${inet.publicB}/`),
      probe('listed-private', `http://${inet.privateA}/`),
      probe('unlisted-private', `http://${inet.privateB}/`),
      probe('host-loopback', `http://10.0.2.2:${loopbackPort}/`),
      'wait',
    ].join('\n');
    const out = (await runInGuest(client, ['sh', '-c', script])).stdout.split('\n').filter(Boolean).sort();
    expect(out).toEqual([
      'host-loopback: blocked',
      `listed-private: hello from ${inet.privateA}:80`,
      `listed: hello from ${inet.publicA}:80`,
      'other-port: blocked',
      'unlisted-private: blocked',
      'unlisted: blocked',
    ]);
    expect(loopbackHits).toBe(0);
  }, 60_000);
});
