// A machine's cgroups on cgroup v1 (one directory per controller) or v2 (one unified directory):
// memory and CPU limits, a pids cap, freeze/thaw for pause, and OOM-kill counts.
//
// The limits sit on the machine's group, and its processes in a leaf group below it (`guest`). A guest
// that gets a cgroup namespace of its own (a nested user namespace can make one) and mounts cgroupfs
// sees its leaf as the root: it may write the leaf's knobs, but the kernel still enforces the machine
// group's limits above it, which the guest can neither see nor reach.
import fs from 'node:fs';
import path from 'node:path';
import { removeCgroup } from '../remove-cgroup.js';

const ROOT = '/sys/fs/cgroup';
const PARENT = 'aegis';
/** The machine group's child that holds its processes. */
export const LEAF = 'guest';
const CPU_PERIOD_US = 100_000;
/** What a machine's limits need on cgroup v2 (v1 mounts each as a hierarchy of its own, plus the freezer). */
const V2_CONTROLLERS = ['memory', 'cpu', 'pids'];
const PIDS_MAX = 4096;
/** Share of the host's task limit that all machines together may use: the host keeps the rest. */
const MACHINES_SHARE_OF_HOST_TASKS = 0.5;
/** USER_HZ: what /proc/<pid>/stat counts CPU time in (100 on every Linux architecture Aegis runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

export type CgroupVersion = 1 | 2;

export function cgroupVersion(): CgroupVersion | undefined {
  if (fs.existsSync(path.join(ROOT, 'cgroup.controllers'))) return 2;
  if (fs.existsSync(path.join(ROOT, 'memory')) && fs.existsSync(path.join(ROOT, 'freezer'))) return 1;
  return undefined;
}

export interface CgroupLimits {
  memoryBytes: number;
  vcpus: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

function tryWrite(file: string, value: string): void {
  try {
    write(file, value);
  } catch {
    /* optional knob (e.g. swap accounting off): the limit still holds without it */
  }
}

export class MachineCgroups {
  private constructor(
    readonly version: CgroupVersion,
    /** v1: one dir per controller; v2: the single unified dir. */
    readonly dirs: Record<string, string>,
  ) {}

  /** `root`: where the hierarchy is mounted (v2: the unified one; v1: the directory of one mount per controller). */
  static forMachine(id: string, version: CgroupVersion = cgroupVersion() ?? 1, root = ROOT): MachineCgroups {
    const dirs: Record<string, string> =
      version === 2
        ? { unified: path.join(root, PARENT, id) }
        : Object.fromEntries(['memory', 'cpu', 'pids', 'freezer'].map((c) => [c, path.join(root, c, PARENT, id)]));
    return new MachineCgroups(version, dirs);
  }

  /** The groups a machine record names (so a re-adopted machine uses the dirs it was started with). */
  static fromDirs(version: CgroupVersion, dirs: Record<string, string>): MachineCgroups {
    return new MachineCgroups(version, { ...dirs });
  }

  /** Creates the groups with their limits; returns the leaf's cgroup.procs files a process joins by writing its pid. */
  async create(limits: CgroupLimits): Promise<string[]> {
    // Groups left by a machine of the same id that died with its daemon hold stale limits (and v1 refuses a
    // memory limit above an old memsw limit): start from fresh ones. rmdir fails if processes remain.
    if (this.exists()) await this.remove();
    const quota = String(Math.round(limits.vcpus * CPU_PERIOD_US));
    if (this.version === 2) {
      const dir = this.dirs.unified;
      const parent = path.dirname(dir);
      const root = path.dirname(parent);
      // Controllers must be enabled on every ancestor's subtree_control to reach the machine group.
      // One write per controller: a controller that cannot be enabled must not keep the others off.
      for (const c of V2_CONTROLLERS) tryWrite(path.join(root, 'cgroup.subtree_control'), `+${c}`);
      fs.mkdirSync(parent, { recursive: true });
      capMachineTasks(parent);
      for (const c of V2_CONTROLLERS) tryWrite(path.join(parent, 'cgroup.subtree_control'), `+${c}`);
      fs.mkdirSync(dir, { recursive: true });
      // A machine without its limits must not start: say which controller the host kept for itself.
      const available = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/);
      const missing = V2_CONTROLLERS.filter((c) => !available.includes(c));
      if (missing.length) {
        await this.remove();
        throw new Error(`cgroup v2: the ${missing.join(', ')} controller(s) cannot be enabled for ${dir} (see ${path.join(root, 'cgroup.subtree_control')}), so the machine's limits cannot be set`);
      }
      write(path.join(dir, 'memory.max'), String(limits.memoryBytes));
      tryWrite(path.join(dir, 'memory.swap.max'), '0');
      write(path.join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
      write(path.join(dir, 'pids.max'), String(PIDS_MAX));
      fs.mkdirSync(path.join(dir, LEAF));
      return [path.join(dir, LEAF, 'cgroup.procs')];
    }
    for (const dir of Object.values(this.dirs)) fs.mkdirSync(dir, { recursive: true });
    capMachineTasks(path.dirname(this.dirs.pids));
    const mem = this.dirs.memory;
    write(path.join(mem, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    // Without swap limits a hungry process would swap instead of being OOM-killed at the limit.
    tryWrite(path.join(mem, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
    tryWrite(path.join(mem, 'memory.swappiness'), '0');
    write(path.join(this.dirs.cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    write(path.join(this.dirs.cpu, 'cpu.cfs_quota_us'), quota);
    tryWrite(path.join(this.dirs.pids, 'pids.max'), String(PIDS_MAX));
    for (const dir of Object.values(this.dirs)) fs.mkdirSync(path.join(dir, LEAF));
    return Object.values(this.dirs).map((d) => path.join(d, LEAF, 'cgroup.procs'));
  }

  async freeze(): Promise<void> {
    await this.setFrozen(true);
  }

  async thaw(): Promise<void> {
    await this.setFrozen(false);
  }

  private async setFrozen(frozen: boolean): Promise<void> {
    const deadline = Date.now() + 5_000;
    if (this.version === 2) {
      const dir = this.dirs.unified;
      write(path.join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
      while (!fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8').includes(`frozen ${frozen ? 1 : 0}`)) {
        if (Date.now() > deadline) throw new Error(`cgroup ${dir} did not ${frozen ? 'freeze' : 'thaw'} within 5 s`);
        await sleep(2);
      }
      return;
    }
    const state = path.join(this.dirs.freezer, 'freezer.state');
    const want = frozen ? 'FROZEN' : 'THAWED';
    write(state, want);
    // FREEZING is transient: tasks are still being stopped.
    while (fs.readFileSync(state, 'utf8').trim() !== want) {
      if (Date.now() > deadline) throw new Error(`cgroup ${this.dirs.freezer} did not reach ${want} within 5 s`);
      write(state, want);
      await sleep(2);
    }
  }

  isFrozen(): boolean {
    try {
      return this.version === 2
        ? fs.readFileSync(path.join(this.dirs.unified, 'cgroup.events'), 'utf8').includes('frozen 1')
        : fs.readFileSync(path.join(this.dirs.freezer, 'freezer.state'), 'utf8').trim() !== 'THAWED';
    } catch {
      return false;
    }
  }

  /** OOM kills in the machine: v2 counts them up the tree; v1 only in the group of the killed process. */
  oomKills(): number {
    const count = (file: string) => {
      try {
        const m = /^oom_kill (\d+)$/m.exec(fs.readFileSync(file, 'utf8'));
        return m ? Number(m[1]) : 0;
      } catch {
        return 0;
      }
    };
    if (this.version === 2) return count(path.join(this.dirs.unified, 'memory.events'));
    return subtreeDeepestFirst(this.dirs.memory).reduce((sum, group) => sum + count(path.join(group, 'memory.oom_control')), 0);
  }

  /** Memory charged to the machine's group now (page cache included, as the limit counts it). */
  memoryBytes(): number | undefined {
    try {
      const file = this.version === 2 ? path.join(this.dirs.unified, 'memory.current') : path.join(this.dirs.memory, 'memory.usage_in_bytes');
      const n = Number(fs.readFileSync(file, 'utf8').trim());
      return Number.isFinite(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * CPU time the machine's processes have used, in microseconds: v2 counts it per cgroup; on v1 (no
   * cpuacct group here) it is the sum over the live processes, enough to tell a busy machine from an idle one.
   */
  cpuMicros(): number | undefined {
    try {
      if (this.version === 2) {
        const m = /^usage_usec (\d+)$/m.exec(fs.readFileSync(path.join(this.dirs.unified, 'cpu.stat'), 'utf8'));
        return m ? Number(m[1]) : undefined;
      }
      let ticks = 0;
      for (const pid of subtreeProcs(this.dirs.pids)) {
        try {
          // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
          const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          ticks += Number(fields[11]) + Number(fields[12]);
        } catch {
          /* exited between the listing and the read */
        }
      }
      return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
    } catch {
      return undefined;
    }
  }

  /**
   * SIGKILLs every process left in the machine's groups, frozen first so that none can fork meanwhile.
   * Needed when the machine's unshare process died on its own: the harness does not die with it (its
   * parent-death signal is cleared when it starts with another real uid).
   */
  async killAll(): Promise<void> {
    const procs = () => subtreeProcs(this.version === 2 ? this.dirs.unified : this.dirs.pids);
    if (procs().length === 0) return;
    await this.freeze().catch(() => undefined);
    for (const pid of procs()) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    await this.thaw().catch(() => undefined);
    const deadline = Date.now() + 2_000;
    while (procs().length > 0 && Date.now() < deadline) await sleep(10);
  }

  /** Removes the groups (and any the guest made below its leaf) once their processes are gone. */
  async remove(): Promise<void> {
    for (const dir of Object.values(this.dirs)) {
      for (const group of subtreeDeepestFirst(dir)) await removeCgroup(group);
    }
  }

  exists(): boolean {
    return Object.values(this.dirs).some((d) => fs.existsSync(d));
  }
}

/** A group and every group below it, children before their parents. */
function subtreeDeepestFirst(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return [...entries.filter((e) => e.isDirectory()).flatMap((e) => subtreeDeepestFirst(path.join(dir, e.name))), dir];
}

/** The pids of every process in a group and the groups below it (the guest may make its own). */
function subtreeProcs(dir: string): string[] {
  return subtreeDeepestFirst(dir).flatMap((group) => {
    try {
      return fs.readFileSync(path.join(group, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  });
}

/**
 * Caps the tasks of all machines together (the `aegis` parent's pids.max) at a share of the host's
 * limit, so that machines, each within its own cap, can never exhaust the host's pids between them.
 */
function capMachineTasks(parentDir: string): void {
  tryWrite(path.join(parentDir, 'pids.max'), String(machinesTaskCap()));
}

export function machinesTaskCap(): number {
  const read = (f: string) => Number(fs.readFileSync(f, 'utf8').trim());
  const hostLimit = Math.min(read('/proc/sys/kernel/pid_max'), read('/proc/sys/kernel/threads-max'));
  return Math.floor(hostLimit * MACHINES_SHARE_OF_HOST_TASKS);
}
