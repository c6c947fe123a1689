// A machine's cgroups on a cgroup v2 hierarchy (most current distributions), tested on the host's v2
// mount (a hybrid host has one beside its v1 controllers; else one is mounted for the test). A hybrid
// host keeps the memory, cpu and pids controllers on v1, so here v2 can show everything but the limits
// themselves: the layout, a clear refusal when a controller is missing, freezing, CPU time, killing and
// removal.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEAF, MachineCgroups } from '../../../src/vmm/sandbox/cgroups.js';

/** Where the unified hierarchy is mounted, mounting it if the host has no such mount. */
function v2Root(): { root: string; mounted: boolean } {
  const existing = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => / - cgroup2 /.test(l));
  if (existing) return { root: existing.split(' ')[4]!, mounted: false };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cgroup2-'));
  execFileSync('mount', ['-t', 'cgroup2', 'none', root]);
  return { root, mounted: true };
}

/** State letter of a process (R, S, T...), from /proc/PID/stat. */
const procState = (pid: number) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
};

describe('machine cgroups on cgroup v2', () => {
  let v2: { root: string; mounted: boolean };
  const id = `mach-v2-${process.pid}`;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    v2 = v2Root();
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await MachineCgroups.forMachine(id, 2, v2.root).remove().catch(() => undefined);
    try {
      fs.rmdirSync(path.join(v2.root, 'aegis')); // unless machines of a real daemon use it
    } catch {
      /* in use, or gone */
    }
    if (v2.mounted) {
      execFileSync('umount', [v2.root]);
      fs.rmdirSync(v2.root);
    }
  });

  it('refuses to make a machine whose limits a controller could not hold, naming it, and leaves nothing behind', async () => {
    const controllers = fs.readFileSync(path.join(v2.root, 'cgroup.controllers'), 'utf8');
    const cg = MachineCgroups.forMachine(id, 2, v2.root);
    expect(cg.dirs).toEqual({ unified: path.join(v2.root, 'aegis', id) });
    if (/\bmemory\b/.test(controllers) && /\bcpu\b/.test(controllers) && /\bpids\b/.test(controllers)) {
      // A pure v2 host: the limits are set on the machine's group, its processes go to the leaf below.
      const procs = await cg.create({ memoryBytes: 256 * 1024 * 1024, vcpus: 1 });
      expect(procs).toEqual([path.join(v2.root, 'aegis', id, LEAF, 'cgroup.procs')]);
      expect(fs.readFileSync(path.join(cg.dirs.unified, 'memory.max'), 'utf8').trim()).toBe(String(256 * 1024 * 1024));
      expect(fs.readFileSync(path.join(cg.dirs.unified, 'pids.max'), 'utf8').trim()).toBe('4096');
      await cg.remove();
      return;
    }
    await expect(cg.create({ memoryBytes: 256 * 1024 * 1024, vcpus: 1 })).rejects.toThrow(/cgroup v2: the (memory|cpu|pids)\b.* controller\(s\) cannot be enabled .*limits cannot be set/);
    expect(cg.exists()).toBe(false);
  });

  it('freezes and thaws, counts CPU time, kills and removes a machine group', async () => {
    // The layout create() makes, without the limits this host cannot hold on v2.
    const dir = path.join(v2.root, 'aegis', id);
    fs.mkdirSync(path.join(dir, LEAF), { recursive: true });
    const cg = MachineCgroups.fromDirs(2, { unified: dir });
    child = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    fs.writeFileSync(path.join(dir, LEAF, 'cgroup.procs'), String(child.pid));
    await new Promise((r) => setTimeout(r, 200));
    expect(cg.cpuMicros()).toBeGreaterThan(0);
    await cg.freeze();
    expect(cg.isFrozen()).toBe(true);
    const frozenAt = cg.cpuMicros()!;
    await new Promise((r) => setTimeout(r, 200));
    expect(cg.cpuMicros()).toBe(frozenAt);
    await cg.thaw();
    expect(cg.isFrozen()).toBe(false);
    expect(procState(child.pid!)).toMatch(/[RS]/);
    expect(cg.oomKills()).toBe(0);
    await cg.killAll();
    expect(fs.existsSync(`/proc/${child.pid}`) && procState(child.pid!) !== 'Z').toBe(false);
    await cg.remove();
    expect(cg.exists()).toBe(false);
  });
});
