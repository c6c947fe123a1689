// slirp4netns attached to a network namespace from the host, as a sandbox machine gets it: inside the
// machine's egress cgroup or not at all, confined, and publishing nothing. A bare `unshare --net` process stands in
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

describe.skipIf(!guestNetworkSupport().supported)('slirp4netns for a sandbox machine', () => {
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
    const routes = fs.readFileSync(`/proc/${init}/net/route`, 'utf8');
    expect(routes).toMatch(/^eth0\t00000000\t0202000A\t/m); // default via 10.0.2.2
    const [helper] = cgroupPids(cgroup);
    expect(fs.readFileSync(`/proc/${helper}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['--disable-host-loopback', '--enable-sandbox', '--enable-seccomp']));
    // Ready means confined: it wrote its ready fd after entering its sandbox and seccomp filter.
    const status = fs.readFileSync(`/proc/${helper}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2');
    // Of root's capabilities CAP_NET_BIND_SERVICE only, in every set: no CAP_NET_RAW (raw sockets), no CAP_SYS_ADMIN.
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) expect(BigInt(`0x${field(set)}`), set).toBe(1n << 10n);
    // A root of its own holding only /etc and /run (read-only, for resolv.conf).
    expect(fs.readdirSync(`/proc/${helper}/root`).sort()).toEqual(['etc', 'run']);
    // Nothing published on the host: no listening socket of its in the host's namespace.
    const inodes = fs.readdirSync(`/proc/${helper}/fd`).map((fd) => fs.readlinkSync(`/proc/${helper}/fd/${fd}`)).filter((l) => l.startsWith('socket:'));
    const listening = ['tcp', 'tcp6'].flatMap((f) => fs.readFileSync(`/proc/net/${f}`, 'utf8').split('\n').slice(1).filter((l) => l.trim().split(/\s+/)[3] === '0A').map((l) => `socket:[${l.trim().split(/\s+/)[9]}]`));
    expect(inodes.filter((i) => listening.includes(i))).toEqual([]);
  });

  it('never runs when it cannot join the cgroup: no helper, no eth0', async () => {
    const ns = machine();
    const egress = { cgroup: '/sys/fs/cgroup/unified/no-such-egress-group', resolvers: [], hostResolvers: true } as unknown as MachineEgress;
    await expect(attachGuestNetwork({ unsharePid: ns.pid!, egress, machineDir: machineDir(), timeoutMs: 5_000 })).rejects.toThrow(/slirp4netns stopped \(exit 2\) before the guest had a network/);
    expect(interfaces(guestInitPid(ns.pid!)!)).toEqual(['lo']);
  });
});
