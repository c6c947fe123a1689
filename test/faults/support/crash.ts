// What the crash scenarios share: kill -9 the daemon, check the store file, and find a home's machine
// processes by machine id (cgroups and /proc), so orphans and duplicates show whatever the daemon believes.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { waitFor, type TempHome } from '../../support/temp-home.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function daemonPid(home: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(path.join(home, 'data', 'aegisd.pid'), 'utf8'), 10);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the home's daemon (no shutdown code runs) and waits until it is gone. */
export async function killDaemon(home: string): Promise<void> {
  const pid = daemonPid(home);
  if (pid === undefined) throw new Error(`no daemon pid in ${home}`);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !alive(pid), { what: `aegisd ${pid} gone` });
}

/** PRAGMA integrity_check of the home's store, opened the way the daemon opens it (recovering the WAL). */
export function integrityCheck(home: string): string {
  const db = new Database(path.join(home, 'data', 'aegis.db'));
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('\n');
  } finally {
    db.close();
  }
}

const MACHINE_IN_PATH = /\/data\/machines\/(mach-[a-z0-9-]+)\//;
const MACHINE_IN_CGROUP = /^\d+:pids:\/aegis\/(mach-[a-z0-9-]+)(\/|$)/m;

/**
 * The live host processes of the home's machines, by machine id: any process whose command line names a
 * machine directory of this home, and every process in the pids cgroup of such a machine.
 */
export function machineProcesses(home: string): Map<string, number[]> {
  const ours = new Set<string>();
  const byCgroup = new Map<string, number[]>();
  const prefix = path.join(home, 'data', 'machines') + '/';
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(prefix)) {
        const m = MACHINE_IN_PATH.exec(cmdline.split('\0').find((a) => a.startsWith(prefix)) ?? '');
        if (m) ours.add(m[1]!);
      }
      // A zombie's cgroup file is empty: only living processes count.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      const cg = MACHINE_IN_CGROUP.exec(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
      if (cg) byCgroup.set(cg[1]!, [...(byCgroup.get(cg[1]!) ?? []), pid]);
    } catch {
      /* exited while we looked */
    }
  }
  // Machine ids recorded in this home (a machine whose launcher is gone still has its directory).
  const dir = path.join(home, 'data', 'machines');
  if (fs.existsSync(dir)) for (const id of fs.readdirSync(dir)) ours.add(id);
  const out = new Map<string, number[]>();
  for (const id of ours) {
    const pids = byCgroup.get(id);
    if (pids?.length) out.set(id, pids);
  }
  return out;
}

/** The hostname a machine was started with (its instance's id for instance machines), from its launcher's arguments. */
export function machineHostname(home: string, machineId: string): string | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0] !== 'unshare') continue;
      const at = args.indexOf(path.join(home, 'data', 'machines', machineId, 'fstab'));
      if (at >= 0) return args[at + 1];
    } catch {
      /* gone */
    }
  }
  return undefined;
}

export interface InstanceView {
  metadata: { uid: string; deletionTimestamp?: string };
  spec: { app?: string };
  status: { state?: string; machineId?: string; conditions?: { type: string; status?: string; reason?: string; message?: string }[] };
}

export async function instances(t: TempHome): Promise<InstanceView[]> {
  return ((await t.api('GET', '/v1/instances')).body.items ?? []) as InstanceView[];
}

/**
 * After a restart has settled: every machine process belongs to exactly one instance's current machine
 * (none orphaned), no instance runs on two machines (none duplicated). Returns the problems found.
 */
export async function machineProblems(t: TempHome): Promise<string[]> {
  const problems: string[] = [];
  const live = machineProcesses(t.home);
  const items = await instances(t);
  const claimed = new Map(items.filter((i) => i.status.machineId).map((i) => [i.status.machineId!, i.metadata.uid]));
  const byInstance = new Map<string, string[]>();
  for (const [id, pids] of live) {
    if (!claimed.has(id)) problems.push(`machine ${id} has live processes ${pids.join(',')} but no instance names it (orphan)`);
    const host = machineHostname(t.home, id);
    if (host) byInstance.set(host, [...(byInstance.get(host) ?? []), id]);
  }
  for (const [inst, ids] of byInstance) if (ids.length > 1) problems.push(`instance ${inst} runs on ${ids.length} machines: ${ids.join(', ')} (duplicate)`);
  return problems;
}

/** The daemon's resident set in bytes (VmRSS), or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits (up to timeoutMs) for machineProblems to be empty: right after a burst, an instance's status may
 * not yet name the machine that is booting for it. Problems still there at the deadline are returned.
 */
export async function settledMachineProblems(t: TempHome, timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = await machineProblems(t);
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await sleep(200);
  }
}

export interface HomeProcess {
  pid: number;
  /** /proc/PID/comm: qemu-system-x86, zstd, … */
  comm: string;
  /** The machine whose directory its command line names, if any. */
  machineId?: string;
}

/**
 * Every live process but `except` (the daemon) that names the home on its command line or holds a file
 * under it open: machine processes of any backend, and helpers such as a snapshot writer whose daemon died.
 */
export function homeProcesses(home: string, except: number[] = []): HomeProcess[] {
  const out: HomeProcess[] = [];
  const prefix = home + '/';
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || except.includes(pid)) continue;
    try {
      if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      let ours = cmdline.includes(prefix);
      if (!ours) {
        for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
          const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
          if (target.startsWith(prefix)) {
            ours = true;
            break;
          }
        }
      }
      if (!ours) continue;
      const machineId = MACHINE_IN_PATH.exec(cmdline.replaceAll('\0', ' '))?.[1];
      out.push({ pid, comm: fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), ...(machineId ? { machineId } : {}) });
    } catch {
      /* exited while we looked, or not ours to read */
    }
  }
  return out;
}
