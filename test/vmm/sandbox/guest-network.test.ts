// pasta attached to a network namespace from the host, as a sandbox machine gets it: inside the machine's
// egress cgroup or not at all, confined, and publishing nothing. A bare `unshare --net` process stands in
// for the machine (its child plays the guest's PID 1).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostEgressPolicy } from '../../../src/vmm/network/egress-bpf.js';
import { cgroupPids, ensureEgressCgroup, removeEgressCgroup } from '../../../src/vmm/network/egress-filter.js';
import type { MachineEgress } from '../../../src/vmm/network/machine-egress.js';
import { attachGuestNetwork, guestNetworkSupport } from '../../../src/vmm/sandbox/guest-network.js';
import { guestInitPid } from '../../../src/vmm/sandbox/machine-state.js';
import { waitFor } from '../../support/temp-home.js';

const interfaces = (pid: number) =>
  fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]).sort();

describe.skipIf(!guestNetworkSupport().supported)('pasta for a sandbox machine', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function machine(): ChildProcess {
    const ns = spawn('unshare', ['--net', '--fork', 'sleep', '60'], { stdio: 'ignore' });
    cleanups.push(() => void ns.kill('SIGKILL'));
    return ns;
  }

  function machineDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-gn-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it("runs in the machine's egress cgroup, confined, and gives the guest eth0 with a default route", async () => {
    const ns = machine();
    const cgroup = ensureEgressCgroup(`aegis-egress/gn-test-${process.pid}`, hostEgressPolicy());
    cleanups.push(() => removeEgressCgroup(cgroup));
    const egress = { cgroup, resolvers: [], hostResolvers: true } as unknown as MachineEgress;
    await attachGuestNetwork({ unsharePid: ns.pid!, egress, machineDir: machineDir(), timeoutMs: 10_000 });
    const init = guestInitPid(ns.pid!)!;
    expect(interfaces(init)).toEqual(['eth0', 'lo']);
    const [pasta] = cgroupPids(cgroup);
    expect(fs.readFileSync(`/proc/${pasta}/cmdline`, 'utf8')).toMatch(/pasta/);
    // pasta confines itself right after setting up the guest's side, before it serves any traffic.
    let status = '';
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    await waitFor(() => (status = fs.readFileSync(`/proc/${pasta}/status`, 'utf8')) && field('Seccomp') === '2', { what: 'pasta confined', timeoutMs: 2_000 });
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2');
    // CAP_NET_BIND_SERVICE and CAP_SYS_ADMIN only (Debian 12's pasta as root); never more.
    expect(BigInt(`0x${field('CapEff')}`) & ~((1n << 10n) | (1n << 21n))).toBe(0n);
    // An empty root of its own once set up.
    expect(fs.readdirSync(`/proc/${pasta}/root`)).toEqual([]);
    // Nothing published on the host: no listening socket of pasta's in the host's namespace.
    const inodes = fs.readdirSync(`/proc/${pasta}/fd`).map((fd) => fs.readlinkSync(`/proc/${pasta}/fd/${fd}`)).filter((l) => l.startsWith('socket:'));
    const listening = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => l.split(/\s+/)[4] === '0A').map((l) => `socket:[${l.trim().split(/\s+/)[9]}]`);
    expect(inodes.filter((i) => listening.includes(i))).toEqual([]);
  });

  it('never runs when it cannot join the cgroup: no pasta, no eth0', async () => {
    const ns = machine();
    const egress = { cgroup: '/sys/fs/cgroup/unified/no-such-egress-group', resolvers: [], hostResolvers: true } as unknown as MachineEgress;
    await expect(attachGuestNetwork({ unsharePid: ns.pid!, egress, machineDir: machineDir(), timeoutMs: 5_000 })).rejects.toThrow(/pasta stopped \(exit 2\) before the guest had a network/);
    expect(interfaces(guestInitPid(ns.pid!)!)).toEqual(['lo']);
  });
});
