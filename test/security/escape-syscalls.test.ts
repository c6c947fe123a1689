// Attacks through system calls that escapes from container runtimes have used: the kernel's key store,
// BPF, new namespaces and mounts (a fresh procfs or cgroupfs, unmounting what hides the host), file
// handles (Docker's "shocker"), ptrace of what lies outside, and the 32-bit entry. The seccomp filter
// refuses them (EPERM), and where it would not, the dropped capabilities and the user namespace do.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestRun, sandboxFixture, type Booted, type SandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';
import { installAttackPrograms } from './support/attack-programs.js';

describe('system calls a guest is refused', () => {
  let fx: SandboxFixture;
  let m: Booted;
  let hostMarker: string;

  beforeAll(async () => {
    fx = await sandboxFixture();
    const workspace = fs.mkdtempSync(path.join(fx.home, 'ws-'));
    installAttackPrograms(workspace, ['syscall-probe', 'shocker', 'compat-syscall']);
    // Something at the host's / that only a guest escaping to the host's disk could list.
    hostMarker = `aegis-shocker-marker-${process.pid}`;
    fs.writeFileSync(path.join('/', hostMarker), '');
    m = await fx.boot({ workspaceDir: workspace });
  }, 120_000);
  afterAll(async () => {
    fs.rmSync(path.join('/', hostMarker), { force: true });
    await fx?.dispose();
  });

  const probe = async (...names: string[]) => {
    const r = await guestRun(m.client, ['/workspace/syscall-probe', ...names]);
    return Object.fromEntries(r.out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  };

  it('runs every guest process under the filter, with no_new_privs (seccomp mode 2)', async () => {
    const r = await guestRun(m.client, ['grep', '-E', '^(NoNewPrivs|Seccomp):', '/proc/self/status']);
    expect(r.out).toBe('NoNewPrivs:\t1\nSeccomp:\t2\n');
  });

  it('refuses new namespaces (unshare -U, clone with namespace flags, setns) with EPERM', async () => {
    expect(await guestRun(m.client, ['unshare', '-U', 'true'])).toMatchObject({ code: 1, err: expect.stringMatching(/Operation not permitted/) });
    expect(await probe('unshare-user', 'unshare-mount', 'clone-newuser', 'clone-newpid', 'setns')).toEqual({
      'unshare-user': 'EPERM',
      'unshare-mount': 'EPERM',
      'clone-newuser': 'EPERM',
      'clone-newpid': 'EPERM',
      setns: 'EPERM',
    });
    // Plain processes and threads still start.
    expect(await probe('clone-thread')).toEqual({ 'clone-thread': 'ok' });
  });

  it('refuses mounting a fresh procfs or cgroupfs, and unmounting or remounting what hides the host (EPERM)', async () => {
    expect((await guestRun(m.client, ['sh', '-c', 'mkdir -p /tmp/p && mount -t proc proc /tmp/p'])).code).not.toBe(0);
    expect(await probe('mount-proc', 'mount-cgroup2', 'mount-cgroup', 'umount-proc-sys', 'remount-proc-sys', 'pivot_root')).toEqual({
      'mount-proc': 'EPERM',
      'mount-cgroup2': 'EPERM',
      'mount-cgroup': 'EPERM',
      'umount-proc-sys': 'EPERM',
      'remount-proc-sys': 'EPERM',
      pivot_root: 'EPERM',
    });
  });

  it("refuses the host kernel's key store, BPF, perf, userfaultfd, modules, kexec and io_uring (EPERM)", async () => {
    expect(await probe('keyctl', 'add_key', 'bpf', 'perf_event_open', 'userfaultfd', 'init_module', 'kexec_load', 'io_uring_setup')).toEqual({
      keyctl: 'EPERM',
      add_key: 'EPERM',
      bpf: 'EPERM',
      perf_event_open: 'EPERM',
      userfaultfd: 'EPERM',
      init_module: 'EPERM',
      kexec_load: 'EPERM',
      io_uring_setup: 'EPERM',
    });
  });

  it('open_by_handle_at cannot open the root of the host filesystem behind /.aegis or /workspace (shocker)', async () => {
    for (const through of ['/.aegis', '/workspace']) {
      const r = await guestRun(m.client, ['/workspace/shocker', through]);
      expect(r.out, through).toBe('open_by_handle_at: EPERM\n');
      expect(r.out).not.toContain(hostMarker);
    }
  });

  it('cannot ptrace the harness, and sees no host process to ptrace', async () => {
    expect(await probe('ptrace-pid1')).toEqual({ 'ptrace-pid1': 'EPERM' });
    // Every pid the guest can name is its own; the daemon's pid (this process) names nothing there.
    const visible = (await guestRun(m.client, ['sh', '-c', 'ls /proc | grep -E "^[0-9]+$"'])).out.split('\n').filter(Boolean).map(Number);
    expect(visible.every((p) => p < 100)).toBe(true);
    expect((await guestRun(m.client, ['kill', '-0', String(process.pid)])).code).not.toBe(0);
  });

  it('refuses a personality change and kills a 32-bit (int 0x80) system call', async (ctx) => {
    expect(await probe('personality')).toEqual({ personality: 'ENOSYS' });
    if (process.arch !== 'x64') ctx.skip();
    const r = await guestRun(m.client, ['/workspace/compat-syscall']);
    expect(r.out).toBe('trying int 0x80\n');
    expect(r.code).not.toBe(0);
  });
});
