// How files look with guest root an unprivileged host uid range: image layers, disks and workspaces keep
// guest ids on disk (idmapped mounts), so guest root owns what root owns there, whatever range a machine
// gets, and a disk kept by an instance reads the same under the next range. Plus the sandbox.allowHostRoot
// fallback, where guest root is host root and the rest of the hardening stays.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../../src/vmm/channel/control-client.js';
import { ID_RANGE_SLOTS } from '../../../src/vmm/sandbox/id-ranges.js';
import { guestInitPid } from '../../../src/vmm/sandbox/machine-state.js';
import { SandboxBackend } from '../../../src/vmm/sandbox/sandbox-backend.js';
import { guestRun, sandboxFixture, useSandboxFixture, type SandboxFixture } from './sandbox-fixture.js';

describe('files under a user namespace', () => {
  const fx = useSandboxFixture();

  it("lets guest root own a root-owned workspace, and keeps guest ids on the host's disk", async () => {
    const workspace = fs.mkdtempSync(path.join(fx.home, 'ws-'));
    fs.writeFileSync(path.join(workspace, 'from-host'), 'host\n');
    expect(fs.statSync(workspace).mode & 0o777).toBe(0o700);
    const { client } = await fx.boot({ workspaceDir: workspace });
    const r = await guestRun(client, ['sh', '-c', 'stat -c "%u %n" /workspace /workspace/from-host && echo guest > /workspace/mine && touch /workspace/app && chown 1234:2345 /workspace/app && echo ok']);
    expect(r.out).toBe('0 /workspace\n0 /workspace/from-host\nok\n');
    expect(fs.statSync(path.join(workspace, 'mine')).uid).toBe(0);
    expect(fs.statSync(path.join(workspace, 'app'))).toMatchObject({ uid: 1234, gid: 2345 });
  });

  it("gives guest root its /, /tmp, /run and /dev, and an image's files their owners", async () => {
    const { client } = await fx.boot();
    const r = await guestRun(client, ['stat', '-c', '%u:%g %n', '/', '/tmp', '/run', '/dev', '/dev/shm', '/etc/passwd', '/.aegis/bin/node']);
    expect(r.out.trim().split('\n')).toEqual(['0:0 /', '0:0 /tmp', '0:0 /run', '0:0 /dev', '0:0 /dev/shm', '0:0 /etc/passwd', '0:0 /.aegis/bin/node']);
    expect((await guestRun(client, ['sh', '-c', 'echo x >> /etc/passwd && mkdir /run/x && echo ok'])).out).toBe('ok\n');
  });

  it('keeps the owners of an instance disk when its next machine gets another range', async () => {
    // A registry of its own with one free range at a time, so the two machines surely get different ones
    // (the host-wide one hands out the lowest free range, which other tests on this host take and free).
    const registry = fs.mkdtempSync(path.join(fx.home, 'id-ranges-'));
    const onlyFree = (slot: number) => {
      for (let s = 0; s < ID_RANGE_SLOTS; s++) {
        const file = path.join(registry, String(s));
        if (s === slot) fs.rmSync(file, { force: true });
        else if (!fs.existsSync(file)) fs.writeFileSync(file, JSON.stringify({ owner: '/held', claimedAt: Date.now() }));
      }
    };
    const backend = new SandboxBackend({ paths: fx.paths, runtimeDir: fx.runtimeDir, idRangeRegistry: registry });
    const stateDir = fs.mkdtempSync(path.join(fx.home, 'state-'));
    const boot = async (slot: number) => {
      onlyFree(slot);
      const id = `mach-ns${process.pid}-${slot}`;
      const machine = await backend.start({ id, hostname: id, rootfsLayers: [fx.baseRootfs], memoryMiB: 128, vcpus: 1, stateDir });
      const client = await ControlClient.connect(await machine.connect(20_000), { timeoutMs: 20_000 });
      const done = async () => {
        await client.close();
        await machine.stop(0);
        await backend.destroy(id);
      };
      return { machine, client, done };
    };
    const first = await boot(ID_RANGE_SLOTS - 2);
    try {
      await guestRun(first.client, ['sh', '-c', 'echo kept > /root/kept && mkdir /srv && chown 1234:1234 /srv']);
    } finally {
      await first.done();
    }
    const second = await boot(ID_RANGE_SLOTS - 3);
    try {
      expect(second.machine.record.idRange!.base).not.toBe(first.machine.record.idRange!.base);
      expect((await guestRun(second.client, ['stat', '-c', '%u:%g %n', '/root/kept', '/srv'])).out).toBe('0:0 /root/kept\n1234:1234 /srv\n');
      expect((await guestRun(second.client, ['sh', '-c', 'echo again >> /root/kept && cat /root/kept'])).out).toBe('kept\nagain\n');
    } finally {
      await second.done();
    }
  });
});

describe('sandbox.allowHostRoot (a host without usable user namespaces)', () => {
  let fx: SandboxFixture;
  let backend: SandboxBackend;

  beforeAll(async () => {
    fx = await sandboxFixture();
    backend = new SandboxBackend({ paths: fx.paths, runtimeDir: fx.runtimeDir, hostRoot: true });
  }, 120_000);
  afterAll(() => fx?.dispose());

  it('runs guest root as host root, with the filter, no_new_privs and the dropped capabilities still on', async () => {
    const id = `mach-hostroot-${process.pid}`;
    const m = await backend.start({ id, hostname: id, rootfsLayers: [fx.baseRootfs], memoryMiB: 128, vcpus: 1 });
    try {
      const client = await ControlClient.connect(await m.connect(20_000), { timeoutMs: 20_000 });
      expect(m.record.idRange).toBeUndefined();
      const init = guestInitPid(m.pid)!;
      expect(fs.readFileSync(`/proc/${init}/status`, 'utf8')).toMatch(/^Uid:\t2147483646\t0\t0\t0$/m);
      const r = await guestRun(client, ['grep', '-E', '^(NoNewPrivs|Seccomp|CapBnd):', '/proc/self/status']);
      expect(r.out).toBe('CapBnd:\t00000000a00425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n');
      await client.close();
    } finally {
      await m.stop(0);
      await backend.destroy(id);
    }
  });
});
