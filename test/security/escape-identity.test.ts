// Attacks on who guest root is. In a container without a user namespace guest root is host root, and any
// way out (runc's CVE-2019-5736 overwrote the host's runc binary from inside) lands as root on the host.
// Here guest root is the first id of a host uid range of the machine's own (issue 14).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIRST_ID_BASE, ID_RANGE_SIZE } from '../../src/vmm/sandbox/id-ranges.js';
import { HARNESS_REAL_UID } from '../../src/vmm/sandbox/launch-script.js';
import { guestInitPid } from '../../src/vmm/sandbox/machine-state.js';
import { SandboxBackend } from '../../src/vmm/sandbox/sandbox-backend.js';
import type { SandboxMachine } from '../../src/vmm/sandbox/sandbox-machine.js';
import { guestRun, useSandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';
import { installAttackPrograms } from './support/attack-programs.js';

const REGISTRY = '/run/aegis/id-ranges';

/** Real, effective, saved and filesystem uids of a host process. */
function hostUids(pid: number): number[] {
  return /^Uid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1].split(/\s+/).map(Number);
}

/** Host pids of the guest's processes (its cgroup holds the host's unshare process too, which is not one). */
function guestPids(m: SandboxMachine): number[] {
  const procs = path.join(Object.values(m.record.cgroupDirs!)[0]!, 'guest', 'cgroup.procs');
  return fs.readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number).filter((p) => p !== m.pid);
}

describe('who guest root is on the host', () => {
  const fx = useSandboxFixture();

  it('id says root inside; on the host that process has the first id of a range of its own, unprivileged', async () => {
    const { client, machine } = await fx.boot();
    const range = machine.record.idRange!;
    expect(range.base).toBeGreaterThanOrEqual(FIRST_ID_BASE);
    expect(range.base % ID_RANGE_SIZE).toBe(0);
    const sleeper = client.exec({ argv: ['sleep', '30'], env: {}, stdin: false });
    await sleeper.pid;
    expect(await guestRun(client, ['id'])).toMatchObject({ out: 'uid=0(root) gid=0(root)\n' });
    // Seen from the host: the harness (real uid: the range's last id) and its children, all inside the range.
    const init = guestInitPid(machine.pid)!;
    expect(hostUids(init)).toEqual([range.base + ID_RANGE_SIZE - 1, range.base, range.base, range.base]);
    const others = guestPids(machine).filter((p) => p !== init);
    expect(others.length).toBeGreaterThan(0);
    for (const pid of others) expect(hostUids(pid)).toEqual([range.base, range.base, range.base, range.base]);
    // The guest's own view of its maps: no host id below the range, host root least of all.
    const maps = (await guestRun(client, ['cat', '/proc/self/uid_map'])).out.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    expect(maps).toEqual([
      [0, range.base, ID_RANGE_SIZE - 1],
      [HARNESS_REAL_UID, range.base + ID_RANGE_SIZE - 1, 1],
    ]);
  });

  it('never gives two machines the same range, keeps a range when a restarted daemon adopts the machine, and frees it on destroy', async () => {
    const a = await fx.boot();
    const b = await fx.boot();
    const [ra, rb] = [a.machine.record.idRange!, b.machine.record.idRange!];
    expect(Math.abs(ra.base - rb.base)).toBeGreaterThanOrEqual(ID_RANGE_SIZE);
    // The claims are host-wide, beside every other AEGIS_HOME's, and name their machine.
    expect(JSON.parse(fs.readFileSync(path.join(REGISTRY, String(ra.slot)), 'utf8')).owner).toBe(path.join(fx.paths.machines, a.id));
    // A fresh backend (a restarted daemon) adopts the machine with its range.
    const adopted = await new SandboxBackend({ paths: fx.paths, runtimeDir: fx.runtimeDir }).adopt(a.id);
    expect(adopted?.record.idRange).toEqual(ra);
    await fx.cleanupMachines();
    // Freed: gone, or already claimed by some other machine of this host.
    const owner = (slot: number): string | undefined => {
      try {
        return JSON.parse(fs.readFileSync(path.join(REGISTRY, String(slot)), 'utf8')).owner;
      } catch {
        return undefined;
      }
    };
    expect(owner(ra.slot)).not.toBe(path.join(fx.paths.machines, a.id));
    expect(owner(rb.slot)).not.toBe(path.join(fx.paths.machines, b.id));
  });

  it('a setuid-root binary from an image gains nothing: no_new_privs ignores the bit, and root would be no host root anyway', async () => {
    // An image layer with a setuid-root program in it.
    const layer = fs.mkdtempSync(path.join(fx.home, 'suid-layer-'));
    fs.mkdirSync(path.join(layer, 'usr', 'local', 'bin'), { recursive: true, mode: 0o755 });
    const [probe] = installAttackPrograms(path.join(layer, 'usr', 'local', 'bin'), ['setuid-probe']);
    fs.chownSync(probe, 0, 0);
    fs.chmodSync(probe, 0o4755);
    const { client, machine } = await fx.boot({ rootfsLayers: [fx.baseRootfs, layer] });
    expect((await guestRun(client, ['stat', '-c', '%a %u', '/usr/local/bin/setuid-probe'])).out).toBe('4755 0\n');
    const asUser = await guestRun(client, ['/usr/local/bin/setuid-probe'], { user: '1234' });
    expect(asUser.out).toBe('ruid 1234 euid 1234\nsetuid(0) EPERM\n');
    // And guest root itself holds no host privilege: its uid on the host is the range's first id.
    expect(machine.record.idRange!.base).toBeGreaterThan(0);
    expect((await guestRun(client, ['grep', '^NoNewPrivs:', '/proc/self/status'])).out).toBe('NoNewPrivs:\t1\n');
  });
});
