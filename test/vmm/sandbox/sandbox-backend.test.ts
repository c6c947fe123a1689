// The sandbox backend on its own: real namespaces, overlayfs and cgroups, driven through the Backend contract.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aegisPaths, type AegisPaths } from '../../../src/config/paths.js';
import type { Machine } from '../../../src/vmm/backend.js';
import { ControlClient } from '../../../src/vmm/channel/control-client.js';
import { ensureBaseRootfs } from '../../../src/vmm/rootfs/base-rootfs.js';
import { provisionRuntime } from '../../../src/vmm/runtime/node-runtime.js';
import { MachineCgroups } from '../../../src/vmm/sandbox/cgroups.js';
import { guestNetworkSupport } from '../../../src/vmm/sandbox/guest-network.js';
import { guestInitPid } from '../../../src/vmm/sandbox/machine-state.js';
import { SandboxBackend } from '../../../src/vmm/sandbox/sandbox-backend.js';
import { ROOT, waitFor } from '../../support/temp-home.js';

const HARNESS = path.join(ROOT, 'dist', 'harness', 'aegis-harness.mjs');

async function run(client: ControlClient, argv: string[]): Promise<{ code: number | null; out: string }> {
  const h = client.exec({ argv, env: {}, stdin: false });
  let out = '';
  h.stdout.on('data', (b: Buffer) => (out += b));
  h.stderr.resume();
  const exit = await h.exit;
  return { code: exit.code, out };
}

describe('sandbox backend', () => {
  let home: string;
  let paths: AegisPaths;
  let backend: SandboxBackend;
  let baseRootfs: string;
  const started: Machine[] = [];
  let n = 0;

  const start = async (memoryMiB = 128) => {
    const id = `mach-test${process.pid}x${n++}`;
    const m = await backend.start({ id, hostname: id, rootfsLayers: [baseRootfs], memoryMiB, vcpus: 1 });
    started.push(m);
    const client = await ControlClient.connect(await m.connect(20_000), { timeoutMs: 20_000 });
    return { m, client, id };
  };

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-sb-'));
    paths = aegisPaths({ AEGIS_HOME: home });
    const runtimeDir = await provisionRuntime(paths, HARNESS);
    baseRootfs = await ensureBaseRootfs(paths);
    backend = new SandboxBackend({ paths, runtimeDir });
  }, 120_000);

  afterEach(async () => {
    for (const m of started.splice(0)) {
      await m.stop(0);
      await backend.destroy(m.id);
    }
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it.skipIf(!guestNetworkSupport().supported)('ends the network helper (slirp4netns, in the egress cgroup) with the machine', async () => {
    const { m, id } = await start();
    // Processes of the machine's egress cgroup, found the way a stray one would be: by /proc/PID/cgroup.
    const helpers = () =>
      fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/aegis-egress/${id}-`);
        } catch {
          return false; // exited meanwhile
        }
      });
    const [helper] = helpers();
    expect(fs.readFileSync(`/proc/${helper}/cmdline`, 'utf8')).toMatch(/slirp4netns/);
    await m.stop(0);
    await waitFor(() => helpers().length === 0, { what: 'the network helper to end', timeoutMs: 5_000 });
  });

  it('builds the runtime and the base rootfs once', async () => {
    const t0 = Date.now();
    expect(await provisionRuntime(paths, HARNESS)).toBe(await provisionRuntime(paths, HARNESS));
    expect(await ensureBaseRootfs(paths)).toBe(baseRootfs);
    expect(Date.now() - t0).toBeLessThan(2_000); // no second 100 MB copy
    expect(fs.readdirSync(paths.runtime).filter((d) => !d.startsWith('.tmp-'))).toHaveLength(1);
    expect(fs.existsSync(path.join(baseRootfs, 'bin', 'sh'))).toBe(true);
  });

  it('gives PID 1 (the harness) a clean environment', async () => {
    // Read on the host: the guest's workload may not read the harness's environment (see isolation tests).
    const { m } = await start();
    const env = fs.readFileSync(`/proc/${guestInitPid(m.pid)}/environ`, 'utf8').split('\0').filter(Boolean);
    const names = env.map((l) => l.split('=')[0]).sort();
    // AEGIS_SECCOMP_FILTER: the harness loads it and drops it from its environment before running anything.
    // AEGIS_NAMESERVER: the machine has a network, and the harness writes /etc/resolv.conf naming slirp's DNS.
    expect(names).toEqual(['AEGIS_CONTROL_SOCKET', 'AEGIS_LIFELINE_FD', ...(guestNetworkSupport().supported ? ['AEGIS_NAMESERVER'] : []), 'AEGIS_SECCOMP_FILTER', 'HOME', 'HOSTNAME', 'PATH']);
    expect(env.find((l) => l.startsWith('PATH='))).toBe('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('drops dangerous capabilities: guest root cannot mount or create devices', async () => {
    const { client } = await start();
    const bnd = (await run(client, ['sh', '-c', 'grep CapBnd /proc/self/status'])).out.trim().split(/\s+/)[1];
    const mask = BigInt(`0x${bnd}`);
    const CAP_SYS_ADMIN = 21n;
    const CAP_MKNOD = 27n;
    const CAP_CHOWN = 0n;
    expect(mask & (1n << CAP_SYS_ADMIN)).toBe(0n);
    expect(mask & (1n << CAP_MKNOD)).toBe(0n);
    expect(mask & (1n << CAP_CHOWN)).not.toBe(0n);
    expect((await run(client, ['sh', '-c', 'mkdir -p /mnt/x && mount -t tmpfs none /mnt/x'])).code).not.toBe(0);
    expect((await run(client, ['sh', '-c', 'mknod /tmp/disk b 8 0'])).code).not.toBe(0);
  });

  it('pauses (processes stop making progress) and resumes', async () => {
    const { m, client } = await start();
    void run(client, ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; done']);
    // The writer truncates before it writes: an empty read caught it in between, so read again.
    const read = async (): Promise<number> => Number((await run(client, ['cat', '/tmp/counter'])).out) || read();
    await waitFor(async () => (await read()) > 0, { what: 'the counter to start' });
    await m.pause();
    expect(m.state()).toBe('paused');
    expect(MachineCgroups.forMachine(m.id).isFrozen()).toBe(true);
    await m.resume();
    const a = await read();
    await waitFor(async () => (await read()) > a, { what: 'the counter to advance after resume' });
    await m.pause();
    // While frozen an exec cannot run at all; after resume it does.
    const pending = read();
    const raced = await Promise.race([pending.then(() => 'ran'), new Promise((r) => setTimeout(() => r('blocked'), 300))]);
    expect(raced).toBe('blocked');
    await m.resume();
    expect(await pending).toBeGreaterThan(a);
  });

  it('runs an exec while the main process floods output that nobody reads yet', async () => {
    const { client } = await start();
    const flood = client.exec({ argv: ['yes', 'flood'], env: {}, stdin: false, main: true });
    flood.stdout.pause();
    await new Promise((r) => setTimeout(r, 300)); // let the flood fill every buffer on the way
    const t0 = Date.now();
    expect(await run(client, ['echo', 'still answering'])).toEqual({ code: 0, out: 'still answering\n' });
    expect(Date.now() - t0).toBeLessThan(5_000);
    await flood.signal('SIGKILL');
    flood.stdout.resume();
    expect((await flood.exit).signal).toBe('SIGKILL');
  });

  it('stop ends every process and destroy leaves no cgroup and no machine dir', async () => {
    const { m, client, id } = await start();
    void run(client, ['sleep', '1000']);
    expect(MachineCgroups.forMachine(id).exists()).toBe(true);
    const exit = await m.stop(500);
    expect(exit).toBeDefined();
    expect(m.state()).toBe('exited');
    await backend.destroy(id);
    expect(MachineCgroups.forMachine(id).exists()).toBe(false);
    expect(fs.existsSync(path.join(paths.machines, id))).toBe(false);
    started.splice(started.indexOf(m), 1);
  });

  it('counts an OOM kill when a process exceeds the memory limit', async () => {
    const { m, client } = await start(32);
    const r = await run(client, ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\000" a); echo survived']);
    expect(r.out).not.toContain('survived');
    expect((await m.stats()).oomKills).toBeGreaterThanOrEqual(1);
    expect(m.state()).toBe('running'); // the harness survives its workload's OOM
  });

  it('is re-adopted by a fresh backend (a restarted daemon) and answers on its socket', async () => {
    const { m, client, id } = await start();
    await run(client, ['sh', '-c', 'echo kept > /tmp/mark']);
    await client.close();
    const runtimeDir = fs.readdirSync(paths.runtime).find((d) => !d.startsWith('.tmp-'))!;
    const again = new SandboxBackend({ paths, runtimeDir: path.join(paths.runtime, runtimeDir) });
    const adopted = await again.adopt(id);
    expect(adopted?.pid).toBe(m.pid);
    const c2 = await ControlClient.connect(await adopted!.connect(5_000));
    expect((await run(c2, ['cat', '/tmp/mark'])).out).toBe('kept\n');
    await c2.close();
    expect(await again.adopt('mach-never-started')).toBeUndefined();
  });
});
