// Attack: guest root gets a cgroup namespace of its own (through a nested user namespace), mounts cgroupfs
// and raises its own memory and pids limits. The system call filter refuses the nested user namespace;
// behind it, the limits live on a group above the guest's, out of reach even of a guest that got that far.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { machinesTaskCap, MachineCgroups } from '../../src/vmm/sandbox/cgroups.js';
import { guestRun, sandboxFixture, type SandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';
import { installAttackPrograms } from './support/attack-programs.js';

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8').trim();

describe('cgroup limits a guest cannot raise', () => {
  let fx: SandboxFixture;
  let workspace: string;

  beforeAll(async () => {
    fx = await sandboxFixture();
    workspace = fs.mkdtempSync(path.join(fx.home, 'ws-'));
    installAttackPrograms(workspace, ['cgroup-escape']);
  }, 120_000);
  afterEach(() => fx.cleanupMachines());
  afterAll(() => fx?.dispose());

  it('keeps the memory and pids limits after the guest rewrites what its own cgroupfs mount shows', async () => {
    const { client, id, machine } = await fx.boot({ memoryMiB: 64, workspaceDir: workspace });
    const cg = MachineCgroups.forMachine(id);
    expect(cg.version).toBe(1); // these hosts; the v2 layout is the same (limits above a leaf)
    const limit = String((64 + 64) * 1024 * 1024);

    // The swap limit first where there is one: v1 refuses a memory limit above it.
    await guestRun(client, ['/workspace/cgroup-escape', 'memory', 'memory.memsw.limit_in_bytes', '2147483648']);
    const mem = await guestRun(client, ['/workspace/cgroup-escape', 'memory', 'memory.limit_in_bytes', '2147483648']);
    const pids = await guestRun(client, ['/workspace/cgroup-escape', 'pids', 'pids.max', 'max']);
    // The attack is stopped at its first step now (before issue 14 it got as far as writing its own leaf).
    expect(mem.out).toBe('unshare: Operation not permitted\n');
    expect(pids.out).toBe('unshare: Operation not permitted\n');

    // The machine's limits, on the host, are untouched...
    expect(read(cg.dirs.memory, 'memory.limit_in_bytes')).toBe(limit);
    expect(read(cg.dirs.pids, 'pids.max')).toBe('4096');
    // ...and still bind: a process that grows past them is killed.
    const hog = await guestRun(client, ['sh', '-c', 'x=$(head -c 300000000 /dev/zero | tr "\\000" a); echo survived']);
    expect(hog.out).not.toContain('survived');
    expect((await machine.stats()).oomKills).toBeGreaterThanOrEqual(1);
  });

  it('caps the tasks of all machines together at half of the host limit', async () => {
    await fx.boot();
    const hostLimit = Math.min(Number(read('/proc/sys/kernel', 'pid_max')), Number(read('/proc/sys/kernel', 'threads-max')));
    expect(machinesTaskCap()).toBe(Math.floor(hostLimit / 2));
    expect(Number(read('/sys/fs/cgroup/pids/aegis', 'pids.max'))).toBe(machinesTaskCap());
  });
});
