// What a sandbox machine's guest sees: its own PID 1, root, hostname, network, mounts — and none of the host's.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MachineCgroups } from '../../../src/vmm/sandbox/cgroups.js';
import { fstabField } from '../../../src/vmm/sandbox/guest-mounts.js';
import { GUEST_ADDRESS, guestNetworkSupport } from '../../../src/vmm/sandbox/guest-network.js';
import { guestInitPid, machineDirs } from '../../../src/vmm/sandbox/machine-state.js';
import { guestRun, sandboxFixture, type SandboxFixture } from './sandbox-fixture.js';

/** Every host process's mountinfo lines that mention `needle` (the machine's mounts live in its own namespace). */
function mountsMentioning(needle: string): string[] {
  const hits: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) if (line.includes(needle)) hits.push(`${pid}: ${line}`);
    } catch {
      /* process gone meanwhile */
    }
  }
  return hits;
}

describe('sandbox isolation', () => {
  let fx: SandboxFixture;
  // A file at the host's / that a guest must never see.
  const hostMarker = path.join('/', `.aegis-host-marker-${process.pid}`);

  beforeAll(async () => {
    fx = await sandboxFixture();
    fs.writeFileSync(hostMarker, 'host only\n');
  }, 120_000);
  afterEach(() => fx.cleanupMachines());
  afterAll(async () => {
    fs.rmSync(hostMarker, { force: true });
    await fx?.dispose();
  });

  it('runs the harness as PID 1 of its own pid namespace', async () => {
    const { client, machine } = await fx.boot();
    // On the host, the guest's PID 1 is the unshare process's only child, and it is the harness.
    const init = guestInitPid(machine.pid)!;
    const cmdline = fs.readFileSync(`/proc/${init}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('/.aegis/bin/node');
    expect(cmdline).toContain('/.aegis/harness/aegis-harness.mjs');
    expect(fs.readFileSync(`/proc/${init}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);
    // Only the workload's own processes are visible (the exec'd shell and ls), not even the harness.
    const pids = (await guestRun(client, ['sh', '-c', 'ls /proc | grep -E "^[0-9]+$"'])).out.split('\n').filter(Boolean).map(Number);
    expect(pids).not.toContain(1);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.length).toBeLessThan(10);
  });

  it('roots the guest in its rootfs: the host / is invisible', async () => {
    const { client } = await fx.boot();
    const root = (await guestRun(client, ['ls', '-a', '/'])).out.split('\n');
    expect(root).not.toContain(path.basename(hostMarker));
    expect(root).toEqual(expect.arrayContaining(['bin', 'etc', 'proc', 'workspace', '.aegis']));
    expect((await guestRun(client, ['cat', '/etc/os-release'])).out).toContain('Aegis base');
    // The old root was detached after pivot_root: no mount of the guest points back into the host tree.
    const mountPoints = (await guestRun(client, ['cat', '/proc/self/mountinfo'])).out.split('\n').filter(Boolean).map((l) => l.split(' ')[4]);
    expect(mountPoints.filter((p) => p === '/')).toHaveLength(1);
    expect(mountPoints).toEqual(expect.arrayContaining(['/proc', '/sys', '/dev', '/dev/pts', '/tmp', '/.aegis', '/.aegis-control']));
    expect(mountPoints.filter((p) => p.startsWith(fstabField(fx.home)) || p.startsWith('/work'))).toEqual([]);
  });

  it("sets the machine's hostname and, with network none, gives it a network namespace with only lo, up", async () => {
    const { client, id } = await fx.boot({ network: { egress: 'none' } });
    expect((await guestRun(client, ['hostname'])).out.trim()).toBe(id);
    expect((await guestRun(client, ['ls', '/sys/class/net'])).out.split(/\s+/).filter(Boolean)).toEqual(['lo']);
    const devs = (await guestRun(client, ['cat', '/proc/net/dev'])).out.split('\n').slice(2).filter(Boolean);
    expect(devs.map((l) => l.trim().split(':')[0])).toEqual(['lo']);
    const flags = Number((await guestRun(client, ['cat', '/sys/class/net/lo/flags'])).out.trim());
    expect(flags & 1).toBe(1); // IFF_UP
    expect(os.hostname()).not.toBe(id);
  });

  it.skipIf(!guestNetworkSupport().supported)("gives a machine with a network slirp4netns's eth0 and nothing of the host's interfaces", async () => {
    const { client } = await fx.boot();
    expect((await guestRun(client, ['ls', '/sys/class/net'])).out.split(/\s+/).filter(Boolean)).toEqual(['eth0', 'lo']);
    expect((await guestRun(client, ['ip', '-4', 'addr', 'show', 'eth0'])).out).toContain(`inet ${GUEST_ADDRESS}/24`);
    expect((await guestRun(client, ['ip', 'route'])).out).toContain('default via 10.0.2.2 dev eth0');
    expect((await guestRun(client, ['cat', '/etc/resolv.conf'])).out).toBe('nameserver 10.0.2.3\n');
  });

  it('keeps guest writes on the machine disk: the base rootfs and the runtime stay untouched', async () => {
    const { client, id, machine } = await fx.boot();
    const r = await guestRun(client, ['sh', '-c', 'echo guest > /etc/guest-write && rm /bin/ls && echo ok']);
    expect(r.out).toBe('ok\n');
    expect(fs.existsSync(path.join(fx.baseRootfs, 'etc', 'guest-write'))).toBe(false);
    expect(fs.lstatSync(path.join(fx.baseRootfs, 'bin', 'ls')).isSymbolicLink()).toBe(true);
    // The runtime is mounted read-only.
    expect((await guestRun(client, ['touch', '/.aegis/x'])).code).not.toBe(0);
    expect(fs.existsSync(path.join(fx.runtimeDir, 'x'))).toBe(false);
    // The write is in the upper layer on the machine's own disk image (read without mounting it).
    await machine.stop(0);
    const disk = machineDirs(fx.paths.machines, id).disk;
    expect(execFileSync('debugfs', ['-R', 'cat /upper/etc/guest-write', disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe('guest\n');
  });

  it('gives the guest writable /tmp /run /var, a minimal /dev and the workspace dir (even with a space in its path)', async () => {
    const ws = fs.mkdtempSync(path.join(fx.home, 'work space-'));
    const { client } = await fx.boot({ workspaceDir: ws });
    const r = await guestRun(client, ['sh', '-c', 'for d in /tmp /run /var /dev/shm /workspace; do echo x > $d/probe || exit 1; done; echo hi > /dev/null; head -c 4 /dev/urandom | wc -c; ls /dev']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0].trim()).toBe('4');
    expect(r.out).toMatch(/\bnull\b[\s\S]*\bpts\b[\s\S]*\burandom\b/);
    expect(r.out).not.toMatch(/\bsda|vda|kmsg|mem\b/);
    expect(fs.readFileSync(path.join(ws, 'probe'), 'utf8')).toBe('x\n');
  });

  it('keeps host-wide kernel settings out of guest root\'s reach (/proc/sys is read-only)', async () => {
    const { client } = await fx.boot();
    // Writes back the current value, so even a regression changes nothing on the host.
    const r = await guestRun(client, ['sh', '-c', 'v=$(cat /proc/sys/kernel/printk_ratelimit) && echo "$v" > /proc/sys/kernel/printk_ratelimit']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/read-only/i);
    const mounts = (await guestRun(client, ['cat', '/proc/self/mountinfo'])).out.split('\n').map((l) => l.split(' '));
    expect(mounts.find((f) => f[4] === '/proc/sys')?.[5]).toMatch(/^ro,/);
    // The guest's own per-process knobs stay writable (the harness steers OOM victims with them).
    // (Raising is allowed without privileges; the harness sets children to 1000 right after spawn, racing us.)
    expect((await guestRun(client, ['sh', '-c', 'echo 1000 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj'])).out).toBe('1000\n');
  });

  it('does not leak the host environment into the guest', async () => {
    process.env.AEGIS_TEST_CANARY = 'leaked';
    try {
      const { machine } = await fx.boot();
      const env = fs.readFileSync(`/proc/${guestInitPid(machine.pid)}/environ`, 'utf8').replace(/\0/g, '\n');
      expect(env).not.toContain('AEGIS_TEST_CANARY');
      expect(env).not.toContain('NODE_EXTRA_CA_CERTS');
      expect(env).toContain('AEGIS_CONTROL_SOCKET=/.aegis-control/control.sock');
    } finally {
      delete process.env.AEGIS_TEST_CANARY;
    }
  });

  it('ignores mount-point symlinks planted by an image (they would redirect /.aegis to image files)', async () => {
    // A layer over the base whose /.aegis and /workspace point elsewhere, absolutely (resolved on the host
    // side of the pivot) and relatively.
    const evil = fs.mkdtempSync(path.join(fx.home, 'evil-'));
    fs.mkdirSync(path.join(evil, 'fake-runtime'));
    fs.symlinkSync('/usr/lib', path.join(evil, '.aegis'));
    fs.symlinkSync('fake-runtime', path.join(evil, 'workspace'));
    fs.symlinkSync('/etc', path.join(evil, 'tmp'));
    const { client } = await fx.boot({ rootfsLayers: [fx.baseRootfs, evil] });
    const r = await guestRun(client, ['sh', '-c', 'for d in /.aegis /workspace /tmp; do [ -L $d ] && echo "$d is a link"; done; ls /.aegis/bin']);
    expect(r.out.trim()).toBe('date\nnode\nnsenter\nsetpriv\nsetsid\numount');
    expect(fs.readlinkSync(path.join(evil, '.aegis'))).toBe('/usr/lib'); // the image layer itself is unchanged
  });

  it('stop kills every guest process and leaves no mount and no cgroup behind', async () => {
    const { client, machine, id } = await fx.boot();
    const sleeper = client.exec({ argv: ['sleep', '1000'], env: {}, stdin: false });
    await sleeper.pid;
    // mountinfo escapes blanks the way fstab does (the fixture's home has a space).
    const machineDir = fstabField(path.join(fx.paths.machines, id));
    const init = guestInitPid(machine.pid)!;
    // While it runs, the guest's namespace holds the rootfs overlay on the machine dir.
    expect(fs.readFileSync(`/proc/${init}/mountinfo`, 'utf8')).toContain(machineDir);
    const guestPids = fs.readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(/\s+/).map(Number);
    expect(guestPids.length).toBeGreaterThan(0);
    await machine.stop(500);
    expect(machine.state()).toBe('exited');
    for (const pid of [machine.pid, init, ...guestPids]) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    expect(mountsMentioning(machineDir)).toEqual([]);
    expect(MachineCgroups.forMachine(id).exists()).toBe(false);
  });

  it('rejects connect with the console tail when the machine dies before its harness listens', async () => {
    const id = `mach-bad${process.pid}`;
    const m = await fx.backend.start({ id, hostname: id, rootfsLayers: [path.join(fx.home, 'no-such-layer')], memoryMiB: 64, vcpus: 1 });
    try {
      await expect(m.connect(10_000)).rejects.toThrow(/exited before its harness listened.*(mount|overlay|No such file)/i);
      expect((await m.exited).code).not.toBe(0);
    } finally {
      await m.stop(0);
      await fx.backend.destroy(id);
    }
  });
});
