// A sandbox machine's cgroup limits and its record on disk: what a restarted daemon may and may not adopt.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MachineStateError } from '../../../src/vmm/backend.js';
import { LEAF, MachineCgroups } from '../../../src/vmm/sandbox/cgroups.js';
import { GUEST_CONTROL_SOCKET } from '../../../src/vmm/sandbox/launch-script.js';
import { guestControlSocket, guestInitPid, readRecord } from '../../../src/vmm/sandbox/machine-state.js';
import { pidStartTime } from '../../../src/vmm/process-util.js';
import { SandboxBackend } from '../../../src/vmm/sandbox/sandbox-backend.js';
import { ROOT, waitFor } from '../../support/temp-home.js';
import { guestRun, useSandboxFixture } from './sandbox-fixture.js';

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8').trim();

describe('sandbox machine lifecycle', () => {
  const fx = useSandboxFixture();

  it('puts the machine in cgroups with its memory (plus the harness allowance), CPU and pids limits', async () => {
    const { id } = await fx.boot({ memoryMiB: 64, vcpus: 2 });
    const cg = MachineCgroups.forMachine(id);
    const limit = String((64 + 64) * 1024 * 1024);
    if (cg.version === 1) {
      expect(read(cg.dirs.memory, 'memory.limit_in_bytes')).toBe(limit);
      if (fs.existsSync(path.join(cg.dirs.memory, 'memory.memsw.limit_in_bytes'))) expect(read(cg.dirs.memory, 'memory.memsw.limit_in_bytes')).toBe(limit);
      expect(read(cg.dirs.cpu, 'cpu.cfs_quota_us')).toBe('200000');
      expect(read(cg.dirs.cpu, 'cpu.cfs_period_us')).toBe('100000');
      expect(read(cg.dirs.pids, 'pids.max')).toBe('4096');
    } else {
      expect(read(cg.dirs.unified, 'memory.max')).toBe(limit);
      expect(read(cg.dirs.unified, 'cpu.max')).toBe('200000 100000');
      expect(read(cg.dirs.unified, 'pids.max')).toBe('4096');
    }
    // Every process of the machine is in the leaf below the limits: the unshare parent and the guest's PID 1.
    const machineDir = cg.version === 1 ? cg.dirs.memory : cg.dirs.unified;
    const procs = read(path.join(machineDir, LEAF), 'cgroup.procs').split('\n').map(Number);
    const m = (await fx.backend.adopt(id))!;
    expect(procs).toContain(m.pid);
    expect(procs.length).toBeGreaterThanOrEqual(2);
    expect(read(machineDir, 'cgroup.procs')).toBe('');
  });

  it('pause freezes every guest process (a counter stops advancing) and resume lets it continue', async () => {
    const { id, machine, client } = await fx.boot();
    // The host reads the counter through the guest's root, which needs nothing of the frozen guest.
    const counter = `/proc/${guestInitPid(machine.pid)}/root/root/n`;
    client.exec({ argv: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /root/n.tmp; mv /root/n.tmp /root/n; done'], env: {}, stdin: false }).stdout.resume();
    const value = () => (fs.existsSync(counter) ? Number(fs.readFileSync(counter, 'utf8')) : 0);
    await waitFor(() => value() > 0, { what: 'the counter to start' });
    await machine.pause();
    expect(machine.state()).toBe('paused');
    const frozenAt = value();
    await new Promise((r) => setTimeout(r, 300));
    expect(value()).toBe(frozenAt);
    await machine.resume();
    expect(machine.state()).toBe('running');
    await waitFor(() => value() > frozenAt, { what: 'the counter to advance after resume' });
    // stop() thaws a paused machine first, or its processes could not die.
    await machine.pause();
    await machine.stop(200);
    expect(machine.state()).toBe('exited');
  });

  it('records the machine in state.json, atomically, with what a restarted daemon needs', async () => {
    const { id, machine } = await fx.boot();
    const record = readRecord(path.join(fx.paths.machines, id, 'state.json'))!;
    expect(record).toMatchObject({ backend: 'sandbox', id, pid: machine.pid, runtimeDir: fx.runtimeDir });
    expect(record.pidStartTime).toBe(pidStartTime(machine.pid));
    // The socket is found through the guest's PID 1, not by a path the record keeps.
    expect(record.socketPath).toBeUndefined();
    expect(fs.existsSync(guestControlSocket(guestInitPid(machine.pid)!, GUEST_CONTROL_SOCKET))).toBe(true);
    expect(Object.values(record.cgroupDirs!).every((d) => fs.existsSync(d))).toBe(true);
    expect(fs.readdirSync(path.join(fx.paths.machines, id)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('does not adopt a machine that exited, nor a recycled pid', async () => {
    const { id, machine } = await fx.boot();
    await machine.stop(0);
    const fresh = new SandboxBackend({ paths: fx.paths, runtimeDir: fx.runtimeDir });
    expect(await fresh.adopt(id)).toBeUndefined();
    // A record whose pid is alive but belongs to another process (different start time).
    const dir = path.join(fx.paths.machines, 'mach-recycled');
    fs.mkdirSync(dir, { recursive: true });
    const record = { ...readRecord(path.join(fx.paths.machines, id, 'state.json'))!, id: 'mach-recycled', pid: process.pid, pidStartTime: 1 };
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(record));
    expect(await fresh.adopt('mach-recycled')).toBeUndefined();
    fs.rmSync(dir, { recursive: true });
  });

  it('reports exited once, refuses pause on an exited machine, and sees an adopted machine die', async () => {
    const { id, machine } = await fx.boot();
    const adopted = (await new SandboxBackend({ paths: fx.paths, runtimeDir: fx.runtimeDir }).adopt(id))!;
    expect(adopted.state()).toBe('running');
    const exit = await machine.stop(2_000);
    expect(exit.code === 0 || exit.signal !== null).toBe(true);
    expect(await machine.exited).toBe(exit);
    await expect(machine.pause()).rejects.toBeInstanceOf(MachineStateError);
    // Not our child: its end is found by polling the recorded pid.
    await adopted.exited;
    expect(adopted.state()).toBe('exited');
  });

  it('starts a machine with an id that ran before (stale groups and layers are replaced)', async () => {
    const { id, machine, client } = await fx.boot();
    expect((await guestRun(client, ['touch', '/stale'])).code).toBe(0);
    await machine.stop(0);
    // Groups a crashed daemon left behind, with a smaller limit (v1 refuses a memory limit above memsw).
    await MachineCgroups.forMachine(id).create({ memoryBytes: 16 * 1024 * 1024, vcpus: 1 });
    const again = await fx.backend.start({ id, hostname: id, rootfsLayers: [fx.baseRootfs], memoryMiB: 256, vcpus: 1 });
    try {
      await again.connect(20_000).then((s) => s.destroy());
      expect(fs.existsSync(`/proc/${guestInitPid(again.pid)}/root/bin/sh`)).toBe(true);
      expect(fs.existsSync(`/proc/${guestInitPid(again.pid)}/root/stale`)).toBe(false);
      expect((await again.stats()).memoryLimitBytes).toBe(256 * 1024 * 1024);
    } finally {
      await again.stop(0);
      await fx.backend.destroy(id);
    }
  });

  it('goes away entirely when its unshare process is killed, with no daemon left to clean up', async () => {
    // Started by a process that exits at once, as a crashed daemon would: nothing on the host watches it.
    const id = `mach-orphan${process.pid}`;
    const starter = `
      import { SandboxBackend } from ${JSON.stringify(path.join(ROOT, 'dist/vmm/sandbox/sandbox-backend.js'))};
      const b = new SandboxBackend({ paths: ${JSON.stringify(fx.paths)}, runtimeDir: ${JSON.stringify(fx.runtimeDir)} });
      const m = await b.start({ id: ${JSON.stringify(id)}, hostname: 'orphan', rootfsLayers: [${JSON.stringify(fx.baseRootfs)}], memoryMiB: 64, vcpus: 1 });
      (await m.connect(20000)).destroy();
      process.exit(0);`;
    execFileSync(process.execPath, ['--input-type=module', '-e', starter], { stdio: 'inherit' });
    const record = readRecord(path.join(fx.paths.machines, id, 'state.json'))!;
    const init = guestInitPid(record.pid)!;
    expect(fs.existsSync(`/proc/${init}`)).toBe(true);
    try {
      process.kill(record.pid, 'SIGKILL');
      // The harness reads EOF on its lifeline and stops the machine by itself.
      await waitFor(() => !fs.existsSync(`/proc/${init}`), { what: 'the harness to exit', timeoutMs: 10_000 });
    } finally {
      await fx.backend.destroy(id);
    }
  });

  it('keeps its lifeline from the workload', async () => {
    const { client } = await fx.boot();
    const fds = (await guestRun(client, ['ls', '/proc/self/fd'])).out.split(/\s+/).filter(Boolean);
    expect(fds).not.toContain('8');
    expect(fds).not.toContain('9');
  });

  it('refuses a second start of a running machine and invalid ids', async () => {
    const { id } = await fx.boot();
    await expect(fx.backend.start({ id, hostname: id, rootfsLayers: [fx.baseRootfs], memoryMiB: 64, vcpus: 1 })).rejects.toThrow(/already running/);
    await expect(fx.backend.start({ id: '../escape', hostname: 'x', rootfsLayers: [fx.baseRootfs], memoryMiB: 64, vcpus: 1 })).rejects.toThrow(/machine id/);
    await expect(fx.backend.start({ id: 'mach-ok', hostname: 'x', rootfsLayers: ['/a,b'], memoryMiB: 64, vcpus: 1 })).rejects.toThrow(/overlayfs/);
  });
});
