// Real microVMs under whatever accelerator works here (TCG on the build machines: seconds per boot, so few boots).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../../src/vmm/channel/control-client.js';
import { probeBoot } from '../../../src/vmm/qemu/kvm-probe.js';
import type { QemuAssets } from '../../../src/vmm/qemu/qemu-assets.js';
import type { QemuBackend } from '../../../src/vmm/qemu/qemu-backend.js';
import type { QemuMachine } from '../../../src/vmm/qemu/qemu-machine.js';
import { BOOT_MS, hasQemu, qemuFixture, runInGuest as run } from './qemu-fixture.js';

if (!hasQemu) console.warn('skipping the qemu backend tests: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)');

describe.skipIf(!hasQemu)('qemu backend', () => {
  let home: string;
  let backend: QemuBackend;
  let baseRootfs: string;
  let machine: QemuMachine;
  let client: ControlClient;
  let assets: QemuAssets;

  beforeAll(async () => {
    ({ home, backend, baseRootfs, assets } = await qemuFixture());
    machine = await backend.start({ id: 'vm1', hostname: 'vm1', rootfsLayers: [baseRootfs], memoryMiB: 256, vcpus: 1 });
    client = await ControlClient.connect(await machine.connect(BOOT_MS), { timeoutMs: BOOT_MS });
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    if (machine) await backend.destroy(machine.id);
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('runs commands in a guest kernel, not the host one', async () => {
    const { code, stdout } = await run(client, ['uname', '-r']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/cloud-amd64$/);
    expect(stdout.trim()).not.toBe(os.release());
    expect((await run(client, ['hostname'])).stdout.trim()).toBe('vm1');
  }, 30_000);

  it("has a network, but the host's loopback is out of its reach (egress filter on qemu's slirp sockets)", async (ctx) => {
    // Without the BPF filter (no cgroup2, no CAP_BPF) the VM gets no network at all: nothing to check.
    if (!/network: internet only/.test((await backend.probe()).detail)) ctx.skip();
    expect((await run(client, ['cat', '/etc/resolv.conf'])).stdout).toContain('nameserver 10.0.2.3');
    expect((await run(client, ['ifconfig', 'eth0'])).stdout).toContain('inet addr:10.0.2.15');
    // slirp maps 10.0.2.2 to the host's 127.0.0.1: without the filter this would reach the server.
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.end('hello from the host\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await run(client, ['sh', '-c', `nc -w 3 10.0.2.2 ${port} </dev/null; echo "exit $?"`]);
      expect(r.stdout).not.toContain('hello from the host');
      expect(r.stdout).toMatch(/exit [1-9]/);
      expect(accepted).toBe(0);
    } finally {
      server.close();
    }
  }, 30_000);

  it('pauses and resumes the VM through QMP', async () => {
    await machine.pause();
    expect(machine.state()).toBe('paused');
    // A paused guest answers nothing: an exec must not complete while the vCPUs are stopped.
    const pending = run(client, ['echo', 'after-resume']);
    const early = await Promise.race([pending.then(() => 'done'), new Promise((r) => setTimeout(() => r('waiting'), 1_000))]);
    expect(early).toBe('waiting');
    await machine.resume();
    expect(machine.state()).toBe('running');
    expect((await pending).stdout.trim()).toBe('after-resume');
  }, 30_000);

  it('is re-adopted from its record and keeps answering, however often the host reconnects', async () => {
    const adopted = await backend.adopt(machine.id);
    expect(adopted?.pid).toBe(machine.pid);
    expect(adopted?.state()).toBe('running');
    // The guest answers a leaving host into a port nobody reads; the next host must not trip over that.
    for (let i = 0; i < 3; i++) {
      await client.close();
      client = await ControlClient.connect(await adopted!.connect(BOOT_MS), { timeoutMs: BOOT_MS });
      expect((await run(client, ['echo', 'again'])).stdout).toBe('again\n');
    }
  }, 60_000);

  it('boots the probe initramfs under TCG, and probes KVM by booting, not by /dev/kvm existing', async () => {
    const tcg = await probeBoot(assets.qemuBin, assets.kernel.kernel, assets.initrd, 'tcg', BOOT_MS);
    expect(tcg).toMatchObject({ usable: true, detail: expect.stringMatching(/^a TCG probe boot took \d+ ms$/) });
    // On these build machines KVM is missing or broken; where it works the verdict says so and qemu runs on it.
    const kvm = await probeBoot(assets.qemuBin, assets.kernel.kernel, assets.initrd, 'kvm', 20_000);
    expect(assets.accel).toBe(kvm.usable ? 'kvm' : 'tcg');
    if (!kvm.usable) expect(kvm.detail).toMatch(/^a KVM probe boot (failed|did not finish)/);
  }, 90_000);

  it('stops, leaving no qemu process and a clean machine dir after destroy', async () => {
    const pid = machine.pid;
    await client.close();
    const exit = await machine.stop(1_000);
    expect(exit.signal === 'SIGTERM' || exit.code !== null).toBe(true);
    expect(machine.state()).toBe('exited');
    expect(() => process.kill(pid, 0)).toThrow();
    await backend.destroy(machine.id);
    expect(fs.existsSync(path.join(home, 'data', 'machines', machine.id))).toBe(false);
    expect(await backend.adopt(machine.id)).toBeUndefined();
  }, 30_000);

  it("keeps a state dir's rootfs changes and the app's workspace disk for the next machine", async () => {
    const stateDir = path.join(home, 'state-1');
    const workspaceDir = path.join(home, 'workspaces', 'app1');
    fs.mkdirSync(workspaceDir, { recursive: true });
    fs.writeFileSync(path.join(workspaceDir, 'seed.txt'), 'from the host\n');
    const spec = { hostname: 'ws', rootfsLayers: [baseRootfs], memoryMiB: 256, vcpus: 1, stateDir, workspaceDir };
    const boot = async (id: string) => {
      const m = await backend.start({ ...spec, id });
      return { m, c: await ControlClient.connect(await m.connect(BOOT_MS), { timeoutMs: BOOT_MS }) };
    };
    const first = await boot('vm-state-1');
    expect((await run(first.c, ['cat', '/workspace/seed.txt'])).stdout).toBe('from the host\n');
    expect((await run(first.c, ['sh', '-c', 'echo persisted > /root/note; echo work > /workspace/out; sync'])).code).toBe(0);
    // One machine at a time per workspace disk: a second is refused before it boots.
    await expect(backend.start({ ...spec, id: 'vm-state-x', stateDir: path.join(home, 'state-x') })).rejects.toThrow(/in use by machine vm-state-1/);
    await first.c.close();
    await first.m.stop(1_000);
    await backend.destroy(first.m.id);
    const second = await boot('vm-state-2');
    try {
      expect((await run(second.c, ['cat', '/root/note'])).stdout).toBe('persisted\n');
      expect((await run(second.c, ['cat', '/workspace/out'])).stdout).toBe('work\n');
    } finally {
      await second.c.close();
      await second.m.stop(1_000);
      await backend.destroy(second.m.id);
    }
    expect(fs.existsSync(path.join(stateDir, 'upper.ext4'))).toBe(true);
    expect(fs.existsSync(`${workspaceDir}.ext4`)).toBe(true);
  }, 180_000);

  it('saves its memory on suspend and resumes from it: tmpfs, the main process and its output live on', async () => {
    const stateDir = path.join(home, 'state-snap');
    const spec = { hostname: 'snap', rootfsLayers: [baseRootfs], memoryMiB: 128, vcpus: 1, stateDir, snapshotKey: 'server-v1' };
    const first = await backend.start({ ...spec, id: 'vm-snap-1' });
    const c1 = await ControlClient.connect(await first.connect(BOOT_MS), { timeoutMs: BOOT_MS });
    expect((await run(c1, ['sh', '-c', 'echo only-in-ram > /tmp/note'])).code).toBe(0);
    const main = c1.exec({ argv: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'], env: {}, stdin: false, main: true });
    main.stdout.resume();
    const mainPid = await main.pid;
    await first.pause();
    await first.suspend!();
    expect(first.state()).toBe('exited');
    await c1.close();
    await backend.destroy(first.id);
    expect(fs.statSync(path.join(stateDir, 'memory.snap')).size).toBeGreaterThan(0);

    const second = await backend.start({ ...spec, id: 'vm-snap-2' });
    try {
      expect(second.restored).toBe(true);
      // Consumed by the restore: the disk moves on from here.
      expect(fs.existsSync(path.join(stateDir, 'memory.snap'))).toBe(false);
      const c2 = await ControlClient.connect(await second.connect(BOOT_MS), { timeoutMs: BOOT_MS });
      expect((await run(c2, ['cat', '/tmp/note'])).stdout).toBe('only-in-ram\n');
      const attached = c2.attachMain();
      expect(await attached.pid).toBe(mainPid);
      const line = await new Promise<string>((resolve) => attached.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      expect(line).toMatch(/^tick \d+/);
      // The guest's clock stood still while it was on disk; the clock call sets it (here an hour ahead, so
      // that only the call can explain the guest's answer).
      const HOUR_MS = 3_600_000;
      await c2.setClock(Date.now() + HOUR_MS);
      const guestNow = Number((await run(c2, ['date', '+%s'])).stdout.trim());
      expect(Math.abs(guestNow - (Date.now() + HOUR_MS) / 1000)).toBeLessThan(3);
      await c2.close();
    } finally {
      await second.stop(1_000);
      await backend.destroy(second.id);
    }
  }, 180_000);
});
