// Attacks through what a guest can see and write in its filesystem: the host-wide knobs under /proc and
// /sys (core_pattern runs a program as host root on the next crash; sysrq reboots the host), host kernel
// internals (kcore, keys, timers), host devices, the runtime it shares with other machines, fds and
// environment the daemon might pass on, another machine's files, and a mount point turned into a symlink.
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { guestInitPid, machineDirs } from '../../src/vmm/sandbox/machine-state.js';
import { guestRun, useSandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';

describe('what a guest can reach through its filesystem', () => {
  const fx = useSandboxFixture();

  it('cannot set kernel.core_pattern (a pipe there runs as host root on the next crash)', async () => {
    const before = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const { client } = await fx.boot();
    // Writes back the current value: even a regression changes nothing on the host.
    const r = await guestRun(client, ['sh', '-c', 'v=$(cat /proc/sys/kernel/core_pattern) && echo "$v" > /proc/sys/kernel/core_pattern']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/Read-only file system|Permission denied/);
    expect(fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8')).toBe(before);
  });

  it('cannot write /proc/sysrq-trigger (read-only where this kernel has it)', async () => {
    const { client } = await fx.boot();
    // "h" only prints help to the kernel log, should the write ever go through.
    const r = await guestRun(client, ['sh', '-c', 'echo h > /proc/sysrq-trigger']);
    expect(r.code).not.toBe(0);
    if (fs.existsSync('/proc/sysrq-trigger')) expect(r.err).toMatch(/Read-only file system|Permission denied/);
  });

  it("sees none of the host kernel's memory, keys, timers or firmware, and /sys read-only without cgroups", async () => {
    const { client } = await fx.boot();
    for (const f of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/interrupts', '/proc/sched_debug']) {
      if (!fs.existsSync(f)) continue;
      expect((await guestRun(client, ['cat', f])).out, f).toBe('');
    }
    for (const d of ['/proc/acpi', '/sys/firmware']) {
      if (fs.existsSync(d)) expect((await guestRun(client, ['ls', '-A', d])).out, d).toBe('');
    }
    expect(await guestRun(client, ['touch', '/sys/kernel/aegis-probe'])).toMatchObject({ code: 1, err: expect.stringMatching(/Read-only file system/) });
    expect((await guestRun(client, ['ls', '-A', '/sys/fs/cgroup'])).out).toBe('');
    expect((await guestRun(client, ['cat', '/proc/self/cgroup'])).out.trim().split('\n').every((l) => l.endsWith(':/'))).toBe(true);
    expect((await guestRun(client, ['cat', '/proc/self/mountinfo'])).out).not.toMatch(/ - cgroup2? /);
  });

  it('has the standard device nodes only, and a read-only runtime', async () => {
    const { client } = await fx.boot();
    const dev = (await guestRun(client, ['ls', '/dev'])).out.split('\n').filter(Boolean).sort();
    expect(dev).toEqual(['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    expect(await guestRun(client, ['touch', '/.aegis/bin/node'])).toMatchObject({ code: 1, err: expect.stringMatching(/Read-only file system/) });
  });

  it('gets no fd, socket or environment variable of the host: not those the daemon inherited without close-on-exec either', async () => {
    // The daemon's own parent left it an fd without close-on-exec: a host file the guest must not get.
    const secret = path.join(fx.home, 'host-secret');
    fs.writeFileSync(secret, 'host only\n');
    const fd = fs.openSync(secret, 'r');
    const fcntl = koffi.load('libc.so.6').func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number;
    expect(fcntl(fd, 2 /* F_SETFD */, 0)).toBe(0);
    process.env.AEGIS_TEST_CANARY = 'leaked';
    try {
      const { client, machine } = await fx.boot();
      // The workload: stdin /dev/null, stdout and stderr the harness's pipes or sockets, and nothing else.
      const fds = (await guestRun(client, ['ls', '-l', '/proc/self/fd'])).out.split('\n').filter((l) => l.includes('->'));
      const links = Object.fromEntries(
        fds
          .map((l) => l.trim().split(/\s+/).slice(-3))
          .filter(([, , target]) => !/^\/proc\/\d+\/fd$/.test(target!)) // the directory ls reads, if still open
          .map(([n, , target]) => [n, target]),
      );
      expect(Object.keys(links).sort()).toEqual(['0', '1', '2']);
      expect(links['0']).toBe('/dev/null');
      expect(links['1']).toMatch(/^(pipe|socket):/);
      const env = (await guestRun(client, ['cat', '/proc/self/environ'])).out.split('\0').filter(Boolean);
      expect(env.map((v) => v.split('=')[0]).sort()).toEqual(['HOME', 'HOSTNAME', 'PATH']);
      // The harness holds nothing of the host's but the console it writes to, and its lifeline (a pipe
      // with no name left, whose writer is the machine's unshare process: see launch-script.ts).
      const init = guestInitPid(machine.pid)!;
      const harnessFiles = fs.readdirSync(`/proc/${init}/fd`).map((n) => fs.readlinkSync(`/proc/${init}/fd/${n}`));
      expect(harnessFiles).not.toContain(secret);
      expect(harnessFiles.filter((f) => f.startsWith('/'))).toEqual(expect.arrayContaining([machine.consoleFile]));
      const lifeline = `${path.join(fx.paths.machines, machine.id, 'lifeline')} (deleted)`;
      expect(harnessFiles.filter((f) => f.startsWith('/') && ![machine.consoleFile, '/dev/null', lifeline].includes(f))).toEqual([]);
    } finally {
      delete process.env.AEGIS_TEST_CANARY;
      fs.closeSync(fd);
    }
  });

  it("cannot see or read another machine's files or processes", async () => {
    const a = await fx.boot();
    await guestRun(a.client, ['sh', '-c', 'echo only-machine-a-knows > /root/a-secret && echo only-machine-a-knows > /tmp/a-secret']);
    const sleeper = a.client.exec({ argv: ['sleep', '600'], env: {}, stdin: false });
    await sleeper.pid;
    const b = await fx.boot();
    const aDir = machineDirs(fx.paths.machines, a.id).dir;
    const look = await guestRun(b.client, ['sh', '-c', `cat /root/a-secret /tmp/a-secret /proc/*/root/root/a-secret /proc/*/root/tmp/a-secret "${aDir}/console.log" 2>/dev/null; ps -o args`]);
    expect(look.out).not.toContain('only-machine-a-knows');
    expect(look.out).not.toContain('sleep 600');
    expect(look.out).toContain('ps -o args'); // the listing itself worked
  });

  it('mounts /workspace on the real directory even after the guest made it a symlink in its kept rootfs', async () => {
    const stateDir = fs.mkdtempSync(path.join(fx.home, 'state-'));
    const first = await fx.boot({ stateDir });
    // No workspace this time: /workspace is a plain directory of the rootfs, which guest root may replace.
    expect((await guestRun(first.client, ['sh', '-c', 'rmdir /workspace && ln -s /etc /workspace && readlink /workspace'])).out).toBe('/etc\n');
    await fx.cleanupMachines();
    const workspace = fs.mkdtempSync(path.join(fx.home, 'ws-'));
    fs.writeFileSync(path.join(workspace, 'marker'), 'workspace\n');
    const second = await fx.boot({ stateDir, workspaceDir: workspace });
    const r = await guestRun(second.client, ['sh', '-c', '[ -L /workspace ] && echo link; cat /workspace/marker; cat /etc/os-release | head -1']);
    expect(r.out).toMatch(/^workspace\nNAME=/);
    // A link inside the workspace resolves in the guest's tree, not the host's.
    expect((await guestRun(second.client, ['sh', '-c', 'ln -s / /workspace/up && ls -a /workspace/up/'])).out).toContain('.aegis');
    expect(fs.readlinkSync(path.join(workspace, 'up'))).toBe('/');
  });
});
