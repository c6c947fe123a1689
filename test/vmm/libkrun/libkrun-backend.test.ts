// The libkrun backend end to end on the test double: a real worker process per machine (spec on stdin,
// the guest root mounted in its own namespace, the control port relayed on control.sock), the harness
// booted by the double's init, re-adoption by a new backend, failures reported with the worker's last line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aegisPaths, type AegisPaths } from '../../../src/config/paths.js';
import { ControlClient } from '../../../src/vmm/channel/control-client.js';
import { LibkrunBackend } from '../../../src/vmm/libkrun/libkrun-backend.js';
import type { LibkrunMachine } from '../../../src/vmm/libkrun/libkrun-machine.js';
import { probeLibkrun } from '../../../src/vmm/libkrun/probe.js';
import { ensureBaseRootfs } from '../../../src/vmm/rootfs/base-rootfs.js';
import { provisionRuntime } from '../../../src/vmm/runtime/node-runtime.js';
import { selectBackend } from '../../../src/vmm/select-backend.js';
import { fakeLibkrun, fakeLibkrunLacking, type FakeLibkrun } from '../../support/fake-libkrun.js';
import { ROOT } from '../../support/temp-home.js';
import { runInGuest as run } from '../qemu/qemu-fixture.js';
import { HARNESS } from '../sandbox/sandbox-fixture.js';

const WORKER = path.join(ROOT, 'dist', 'vmm', 'libkrun', 'krun-worker.mjs');
const BOOT_MS = 20_000;

describe('libkrun backend (on the test double)', () => {
  let home: string;
  let paths: AegisPaths;
  let runtimeDir: string;
  let baseRootfs: string;
  let fake: FakeLibkrun;
  let backend: LibkrunBackend;
  const cleanup: (() => Promise<void>)[] = [];

  const boot = async (id: string, extra: { stateDir?: string; workspaceDir?: string } = {}) => {
    const machine = await backend.start({ id, hostname: id, rootfsLayers: [baseRootfs], memoryMiB: 128, vcpus: 1, ...extra });
    cleanup.push(() => backend.destroy(id));
    const client = await ControlClient.connect(await machine.connect(BOOT_MS), { timeoutMs: BOOT_MS });
    cleanup.push(() => client.close());
    return { machine, client };
  };

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-krun-'));
    paths = aegisPaths({ AEGIS_HOME: home });
    runtimeDir = await provisionRuntime(paths, HARNESS);
    baseRootfs = await ensureBaseRootfs(paths);
    fake = fakeLibkrun({ own: true });
    backend = new LibkrunBackend({ paths, runtimeDir, library: fake.library, workerScript: WORKER });
  }, 60_000);

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(fake.dir, { recursive: true, force: true });
  });

  it('boots the harness under libkrun\'s init; the spec reaches the worker on stdin, never on its command line', async () => {
    const workspace = path.join(home, 'ws');
    fs.mkdirSync(workspace);
    const { machine, client } = await boot('k1', { workspaceDir: workspace });
    expect((await run(client, ['cat', '/proc/1/cmdline'])).stdout.split('\0')[0]).toBe('/init.krun');
    expect((await run(client, ['hostname'])).stdout).toBe('k1\n');
    expect((await run(client, ['sh', '-c', 'echo from-guest > /workspace/out'])).code).toBe(0);
    expect(fs.readFileSync(path.join(workspace, 'out'), 'utf8')).toBe('from-guest\n');
    // The runtime is read-only in the guest.
    expect((await run(client, ['sh', '-c', 'touch /.aegis/x 2>/dev/null || echo refused'])).stdout).toBe('refused\n');
    expect(fs.readFileSync(`/proc/${machine.pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual([process.execPath, WORKER]);
    // The worker (whose virtiofs server creates files for the guest) cannot make device nodes: none lands in the workspace.
    const CAP_MKNOD = 27n;
    const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(fs.readFileSync(`/proc/${machine.pid}/status`, 'utf8'))![1]}`);
    expect((capEff >> CAP_MKNOD) & 1n).toBe(0n);
    expect((await run(client, ['sh', '-c', 'mknod /workspace/disk b 8 0 2>/dev/null || echo refused'])).stdout).toBe('refused\n');
    expect(fs.existsSync(path.join(workspace, 'disk'))).toBe(false);
    // The double recorded this worker's calls: its root is the machine's assembled root.
    const calls = fs.readFileSync(path.join(fake.dir, 'calls', `${machine.pid}.jsonl`), 'utf8');
    expect(calls).toContain(`"root_path":"${path.join(paths.machines, 'k1', 'root')}"`);
    expect(calls).toContain('"ram_mib":192');
    // Nothing of the guest's root is mounted on the host: the mounts live in the worker's namespace.
    expect(fs.readFileSync('/proc/self/mounts', 'utf8')).not.toContain(path.join(paths.machines, 'k1'));
  }, 60_000);

  it('refuses pause and resume with a 409 naming why; its stats count the guest', async () => {
    const { machine } = await boot('k2');
    await expect(machine.pause()).rejects.toMatchObject({ code: 'AEGIS_CONFLICT', statusCode: 409, message: expect.stringMatching(/^the libkrun backend cannot pause a machine: libkrun has no call to pause/) });
    await expect(machine.resume()).rejects.toMatchObject({ statusCode: 409 });
    expect(machine.state()).toBe('running');
    const stats = await machine.stats();
    expect(stats.memoryLimitBytes).toBe(192 * 1024 * 1024);
    expect(stats.cpuMicros).toBeGreaterThan(0);
  }, 60_000);

  it('keeps an instance\'s rootfs changes on its state disk across stop and start, and is re-adopted by a new backend', async () => {
    const stateDir = path.join(home, 'instances', 'i1');
    const first = await boot('k3', { stateDir });
    expect((await run(first.client, ['sh', '-c', 'echo kept > /etc/marker'])).code).toBe(0);
    // A restarted daemon: another backend object finds the running worker and reconnects through its relay.
    const again = new LibkrunBackend({ paths, runtimeDir, library: fake.library, workerScript: WORKER });
    const adopted = (await again.adopt('k3')) as LibkrunMachine;
    expect(adopted.pid).toBe(first.machine.pid);
    const client = await ControlClient.connect(await adopted.connect(BOOT_MS), { timeoutMs: BOOT_MS });
    expect((await run(client, ['cat', '/etc/marker'])).stdout).toBe('kept\n');
    await client.close();
    await first.client.close();
    const exit = await first.machine.stop(0);
    expect(exit.signal ?? exit.code).toBeTruthy();
    await backend.destroy('k3');
    expect(fs.existsSync(path.join(stateDir, 'upper.ext4'))).toBe(true);
    const second = await boot('k4', { stateDir });
    expect((await run(second.client, ['cat', '/etc/marker'])).stdout).toBe('kept\n');
  }, 60_000);

  it('a worker that fails before the VM runs ends the boot with its last stderr line', async () => {
    const broken = fakeLibkrun({ own: true });
    cleanup.push(async () => fs.rmSync(broken.dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(broken.dir, 'fault'), 'krun_start_enter\n');
    const failing = new LibkrunBackend({ paths, runtimeDir, library: broken.library, workerScript: WORKER });
    const machine = await failing.start({ id: 'k5', hostname: 'k5', rootfsLayers: [baseRootfs], memoryMiB: 128, vcpus: 1 });
    cleanup.push(() => failing.destroy('k5'));
    await expect(machine.connect(BOOT_MS)).rejects.toThrow(/^machine k5 exited before its harness listened: aegis-krun-worker: krun_start_enter: Invalid argument \(EINVAL\)$/);
    expect(await machine.exited).toEqual({ code: 1, signal: null });
  }, 60_000);

  it('probes the library in a child process: a missing symbol is one line naming it; the double is named and never picked on its own', async () => {
    const old = fakeLibkrunLacking('krun_add_console_port_inout');
    try {
      const probe = await probeLibkrun({ env: { AEGIS_LIBKRUN: old.library }, workerScript: WORKER });
      expect(probe).toMatchObject({ available: false, detail: `${old.library} lacks krun_add_console_port_inout (Aegis needs libkrun 1.17 or newer)` });
    } finally {
      fs.rmSync(old.dir, { recursive: true, force: true });
    }
    const double = await probeLibkrun({ env: { AEGIS_LIBKRUN: fake.library }, workerScript: WORKER });
    expect(double).toMatchObject({ available: true, fixture: true, libraryDetail: `test double at ${fake.library} (a fixture of Aegis's tests, not libkrun: no VM, never chosen automatically)` });
    const auto = await selectBackend(paths, { AEGIS_LIBKRUN: fake.library });
    expect(auto.report.name).not.toBe('libkrun');
    expect(auto.report.reason).toContain('libkrun is the test double');
    const asked = await selectBackend(paths, { AEGIS_LIBKRUN: fake.library, AEGIS_BACKEND: 'libkrun' });
    expect(asked.report).toMatchObject({ name: 'libkrun', reason: 'AEGIS_BACKEND=libkrun', capabilities: { pauseResume: false, memorySnapshots: false, bootFromDiskLayers: true, isolation: 'vm' } });
  }, 60_000);
});
