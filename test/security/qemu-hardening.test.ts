// Issue 21, item 16: the qemu backend. A guest that broke into qemu must find an unprivileged, chrooted,
// seccomp-filtered process; the egress filter must keep port 53 to the configured resolvers (not the
// host's loopback or the LAN) and refuse the special-purpose ranges it missed; and the memory snapshot,
// which holds the guest's decrypted secrets, must be the daemon's alone. Real VMs (TCG here: one boot).
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/vmm/channel/control-client.js';
import { hostAddressCidrs, hostResolvers } from '../../src/vmm/network/egress-bpf.js';
import { egressFilterSupport, ensureEgressCgroup } from '../../src/vmm/network/egress-filter.js';
import { probeQemu } from '../../src/vmm/qemu/probe.js';
import { DEFAULT_QEMU_ID } from '../../src/vmm/qemu/qemu-confinement.js';
import type { QemuMachine } from '../../src/vmm/qemu/qemu-machine.js';
import { BOOT_MS, hasQemu, qemuFixture, runInGuest, type QemuFixture } from '../vmm/qemu/qemu-fixture.js';

const egress = egressFilterSupport();

/** A UDP and a TCP server on host:53 that count what reaches them. */
async function dnsTrap(host: string): Promise<{ hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const udp = dgram.createSocket('udp4');
  udp.on('message', () => hits++);
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(53, host, resolve);
  });
  const tcp = net.createServer((s) => {
    hits++;
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(53, host, resolve);
  });
  return {
    hits: () => hits,
    close: async () => {
      udp.close();
      await new Promise((r) => tcp.close(r));
    },
  };
}

describe.skipIf(!hasQemu)('qemu hardening (a real VM)', () => {
  let fx: QemuFixture;
  let machine: QemuMachine;
  let client: ControlClient;
  let stateDir: string;

  beforeAll(async () => {
    fx = await qemuFixture('ae-qh-');
    stateDir = path.join(fx.home, 'state');
    machine = await fx.backend.start({ id: 'qh', hostname: 'qh', rootfsLayers: [fx.baseRootfs], memoryMiB: 128, vcpus: 1, stateDir, snapshotKey: 'qh' });
    client = await ControlClient.connect(await machine.connect(BOOT_MS), { timeoutMs: BOOT_MS });
  }, 180_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    if (machine) await fx.backend.destroy(machine.id);
    if (fx) fs.rmSync(fx.home, { recursive: true, force: true });
  });

  it('runs qemu as an unprivileged uid, chrooted into an empty jail, under a seccomp filter', async () => {
    const status = fs.readFileSync(`/proc/${machine.pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1].trim().split(/\s+/);
    expect(field('Uid')).toEqual(Array(4).fill(String(DEFAULT_QEMU_ID)));
    expect(field('Gid')).toEqual(Array(4).fill(String(DEFAULT_QEMU_ID)));
    expect(field('Groups')).toEqual([String(DEFAULT_QEMU_ID)]);
    expect(field('CapEff')).toEqual(['0000000000000000']);
    expect(field('NoNewPrivs')).toEqual(['1']);
    expect(field('Seccomp')).toEqual(['2']);
    // Its root is the machine's jail, which holds nothing but the resolv.conf slirp reads.
    const jail = fs.realpathSync(`/proc/${machine.pid}/root`);
    expect(jail).toBe(path.join(fx.paths.machines, 'qh', 'jail'));
    expect(fs.readdirSync(jail)).toEqual(['etc']);
    // The machine dir (console, sockets, record) stays root's alone.
    expect(fs.statSync(path.dirname(jail)).mode & 0o777).toBe(0o700);
    // And `aegis doctor` says so on its qemu line.
    expect((await probeQemu(fx.paths)).detail).toContain(`sandboxed: seccomp, chroot, uid ${DEFAULT_QEMU_ID}`);
  });

  it.skipIf(!egress.supported)("cannot reach a DNS server on the host's loopback; the configured resolver still answers", async () => {
    // slirp hands the guest's 10.0.2.2 to the host's 127.0.0.1: before the fix, port 53 was open on any address.
    const trap = await dnsTrap('127.0.0.1');
    try {
      const udp = await runInGuest(client, ['sh', '-c', 'nslookup -timeout=2 aegis.test 10.0.2.2 2>&1; echo "exit $?"']);
      const tcp = await runInGuest(client, ['sh', '-c', 'echo x | nc -w 2 10.0.2.2 53; echo "exit $?"']);
      expect(trap.hits()).toBe(0);
      expect(udp.stdout).toMatch(/exit [1-9]/);
      expect(tcp.stdout).toMatch(/exit [1-9]/);
    } finally {
      await trap.close();
    }
    // The guest's own resolver (slirp's 10.0.2.3) forwards to the host's configured nameserver, through the
    // chroot's resolv.conf and the filter's one open port 53. Checked where that nameserver answers the host.
    const resolver = hostResolvers()[0];
    if (!resolver || !(await answersDns(resolver))) return;
    const r = await runInGuest(client, ['sh', '-c', 'nslookup -timeout=5 localhost.example 10.0.2.3 2>&1; true']);
    expect(r.stdout).not.toMatch(/timed out|no servers could be reached/);
  }, 60_000);

  it('writes the memory snapshot 0600 into a 0700 state dir', async () => {
    // Loosened as an older daemon (or a umask) may have left it.
    fs.chmodSync(stateDir, 0o755);
    await runInGuest(client, ['sh', '-c', 'echo secret-in-ram > /tmp/s']);
    await machine.pause();
    await machine.suspend!();
    const snap = fs.statSync(path.join(stateDir, 'memory.snap'));
    expect(snap.size).toBeGreaterThan(0);
    expect(snap.mode & 0o777).toBe(0o600);
    expect(fs.statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(stateDir, 'memory.json')).mode & 0o777).toBe(0o600);
  }, 60_000);
});

/** Whether `server` answers a DNS query from the host (any answer, NXDOMAIN included), within 3 s. */
async function answersDns(server: string): Promise<boolean> {
  const { Resolver } = await import('node:dns/promises');
  const r = new Resolver({ timeout: 3_000, tries: 1 });
  r.setServers([server]);
  try {
    await r.resolve4('localhost.example');
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOTFOUND' || (e as NodeJS.ErrnoException).code === 'ENODATA';
  }
}

/** Runs connect/sendto probes in a child that joins `cgroupDir` before its first instruction; one result each. */
function probeFrom(cgroupDir: string, probes: { kind: 'tcp' | 'udp-send' | 'udp-connect'; host: string; port: number }[]): Promise<string[]> {
  const script = `
    import net from 'node:net';
    import dgram from 'node:dgram';
    const tcp = ({ host, port }) => new Promise((resolve) => {
      const s = net.connect({ host, port });
      const done = (r) => { s.destroy(); resolve(r); };
      s.setTimeout(700, () => done('TIMEOUT'));
      s.once('connect', () => done('OK'));
      s.once('error', (e) => done(e.code));
    });
    const udp = ({ kind, host, port }) => new Promise((resolve) => {
      const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      const done = (e) => { s.close(); resolve(e ? e.code : 'OK'); };
      s.once('error', done);
      if (kind === 'udp-connect') s.connect(port, host, done);
      else s.send('x', port, host, done);
    });
    const out = [];
    for (const p of JSON.parse(process.env.PROBES)) out.push(p.kind === 'tcp' ? await tcp(p) : await udp(p));
    process.stdout.write(JSON.stringify(out));
  `;
  const child = spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroupDir, process.execPath, '--input-type=module', '-e', script], {
    env: { ...process.env, PROBES: JSON.stringify(probes) },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve, reject) => child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`probe exited ${code}: ${err}`)))));
}

describe.skipIf(!egress.supported)('qemu egress filter: DNS only to the resolvers, and the special-purpose ranges', () => {
  const name = `aegis-qh-egress-${process.pid}`;
  // The resolver here plays systemd-resolved's stub: a loopback address, whose port 53 alone opens.
  const policy = { blocked: hostAddressCidrs(), resolvers: ['127.0.0.53'] };
  let dir: string;

  beforeAll(() => {
    dir = ensureEgressCgroup(name, policy);
  });

  afterAll(async () => {
    const deadline = Date.now() + 2_000;
    while (dir && fs.existsSync(dir)) {
      try {
        fs.rmdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });

  it("reaches the configured resolver's port 53 and no other DNS server on loopback or the LAN", async () => {
    const resolver = await dnsTrap('127.0.0.53');
    const other = await dnsTrap('127.0.0.54');
    try {
      const results = await probeFrom(dir, [
        { kind: 'udp-send', host: '127.0.0.53', port: 53 },
        { kind: 'tcp', host: '127.0.0.53', port: 53 },
        { kind: 'udp-send', host: '127.0.0.54', port: 53 },
        { kind: 'tcp', host: '127.0.0.54', port: 53 },
        { kind: 'udp-connect', host: '127.0.0.1', port: 53 },
        { kind: 'udp-connect', host: '10.9.9.9', port: 53 },
        { kind: 'udp-connect', host: '192.168.1.1', port: 53 },
        { kind: 'udp-connect', host: '::ffff:127.0.0.54', port: 53 },
        { kind: 'udp-connect', host: 'fd00::53', port: 53 },
      ]);
      expect(results).toEqual(['OK', 'OK', 'EPERM', 'EPERM', 'EPERM', 'EPERM', 'EPERM', 'EPERM', 'EPERM']);
      await new Promise((r) => setTimeout(r, 100));
      expect(other.hits()).toBe(0);
      expect(resolver.hits()).toBe(2);
    } finally {
      await resolver.close();
      await other.close();
    }
  });

  it('refuses benchmarking, reserved, Azure, documentation and other special-purpose destinations, in their v6 forms too', async () => {
    const blocked = [
      '198.18.0.1', '198.19.255.254', '240.0.0.1', '255.255.255.255', '168.63.129.16', '192.0.0.192', '192.0.2.1',
      '198.51.100.7', '203.0.113.7', '100.100.100.200', '0.1.2.3', '224.0.0.251',
      '::ffff:198.18.0.1', '64:ff9b::c612:1', '2002:c612:1::1', '::', '::1', '2001:db8::1', 'fd00:ec2::254', 'fe80::1', 'fec0::1', 'ff02::1', '100::1',
    ];
    const results = await probeFrom(dir, blocked.map((host) => ({ kind: 'udp-connect' as const, host, port: 443 })));
    expect(Object.fromEntries(blocked.map((h, i) => [h, results[i]]))).toEqual(Object.fromEntries(blocked.map((h) => [h, 'EPERM'])));
    // The internet stays open, DNS included.
    const open = await probeFrom(dir, [{ kind: 'udp-connect', host: '8.8.8.8', port: 53 }, { kind: 'udp-connect', host: '1.1.1.1', port: 443 }]);
    expect(open).not.toContain('EPERM');
  });
});
