// Task mode end to end: `aegis run` through a real daemon onto the sandbox backend (or AEGIS_TEST_BACKEND's).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestNetworkSupport } from '../../src/vmm/sandbox/guest-network.js';
import { ON_LIBKRUN, ON_QEMU, ON_VM, scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

// Every run boots (or takes) a machine: the per-test budget follows the backend.
describe('aegis run (task mode)', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  beforeAll(async () => {
    t = withTempHome();
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
    // The first run provisions the guest runtime and base rootfs; give it room once.
    const warm = await t.aegis(['run', '--', 'true'], { timeoutMs: 120_000 });
    expect(warm.code, warm.stderr).toBe(0);
  }, scaled(150_000));
  afterAll(() => t.dispose(), scaled(60_000));

  it('prints exactly what the command prints', async () => {
    expect(await t.aegis(['run', '--', 'echo', 'hello from aegis'])).toEqual({ code: 0, stdout: 'hello from aegis\n', stderr: '' });
  });

  it('exits with the command exit code and keeps stderr on stderr', async () => {
    expect((await t.aegis(['run', '--', 'sh', '-c', 'exit 42'])).code).toBe(42);
    expect(await t.aegis(['run', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('passes --env to the command and nothing from the host', async () => {
    const r = await t.aegis(['run', '--env', 'GREETING=hi there', '--', 'sh', '-c', 'echo "$GREETING"; echo "${AEGIS_HOME:-unset}"']);
    expect(r.stdout).toBe('hi there\nunset\n');
  });

  it('delivers 100 000 lines complete and in order', async () => {
    const r = await t.aegis(['run', '--', 'seq', '1', '100000'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(100_000);
    expect(lines.every((l, i) => l === String(i + 1))).toBe(true);
  });

  it('delivers a 1 MiB single line intact', async () => {
    const r = await t.aegis(['run', '--', 'sh', '-c', 'head -c 1048576 /dev/zero | tr "\\000" a; echo'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(1048577);
    expect(/^a{1048576}\n$/.test(r.stdout)).toBe(true);
  });

  it('reports a missing command with exit 127', async () => {
    const r = await t.aegis(['run', '--', 'no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/no-such-command: command not found/);
  });

  it('isolates the guest: harness is PID 1, own hostname, no host network, host files invisible', async () => {
    const r = await t.aegis(['run', '--', 'sh', '-c', 'tr "\\000" " " < /proc/1/cmdline 2>/dev/null; echo; hostname; cat /proc/net/dev; ls /; test -e /work/main/package.json && echo HOST-VISIBLE; true']);
    expect(r.code, r.stderr).toBe(0);
    const [cmdline, hostname, ...rest] = r.stdout.split('\n');
    // A qemu VM's workload sees the harness as PID 1, a libkrun VM's sees libkrun's init (the harness is its
    // child); a sandbox's does not see it at all (its /proc hides it).
    expect(cmdline).toMatch(ON_QEMU ? /aegis-harness/ : ON_LIBKRUN ? /^\/init\.krun / : /^$/);
    // The machine's own name (the task records it as status.machineId), never the host's.
    expect(hostname).toMatch(/^mach-[0-9a-f]+$/);
    const ifaces = rest.filter((l) => /^\s*\w+:/.test(l)).map((l) => l.trim().split(':')[0]);
    // User-mode networking (egress-filtered) on eth0: qemu's slirp, or the sandbox's slirp4netns. libkrun VMs have none.
    expect(ifaces.sort()).toEqual(ON_QEMU || (!ON_LIBKRUN && guestNetworkSupport().supported) ? ['eth0', 'lo'] : ['lo']);
    expect(r.stdout).not.toContain('HOST-VISIBLE');
  });

  it('keeps writes to / inside the machine', async () => {
    const w = await t.aegis(['run', '--', 'sh', '-c', 'echo x > /written-by-guest && cat /written-by-guest']);
    expect(w.stdout).toBe('x\n');
    const again = await t.aegis(['run', '--', 'sh', '-c', 'test -e /written-by-guest && echo present || echo absent']);
    expect(again.stdout).toBe('absent\n');
    const rootfs = path.join(t.home, 'data', 'rootfs');
    for (const d of fs.readdirSync(rootfs)) expect(fs.existsSync(path.join(rootfs, d, 'written-by-guest'))).toBe(false);
  });

  it('enforces the memory limit: the task fails with a clear reason', async () => {
    const r = await t.aegis(['run', '--memory', '32', '--', 'sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\000" a); echo survived'], { timeoutMs: 60_000 });
    expect(r.stdout).not.toContain('survived');
    expect(r.code).toBe(137);
    // A VM's limit is the guest's whole memory: the 32 MiB asked for plus the guest kernel's and harness's 64.
    expect(r.stderr).toMatch(ON_VM ? /out of memory \(limit 96 MiB\)/ : /out of memory \(limit 32 MiB\)/);
  });

  it('Ctrl+C stops the task and exits 130', async () => {
    const child = t.spawnAegis(['run', '--', 'sh', '-c', 'echo ready; sleep 30']);
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b));
    await waitFor(() => out.includes('ready'), { what: 'the task to start' });
    const started = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The task's machine is torn down: only the warm pool's machine (marked `pooled`) may remain.
    const machines = path.join(t.home, 'data', 'machines');
    const taskMachines = () => fs.readdirSync(machines).filter((m) => !fs.existsSync(path.join(machines, m, 'pooled')));
    await waitFor(() => taskMachines().length === 0, { what: 'machine teardown' });
  });

  it('fails before start with exit 125 on a bad image reference', async () => {
    const r = await t.aegis(['run', '--image', 'Alpine:3.21', '--', 'echo', 'hi']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^error: invalid image reference "Alpine:3.21": the repository must be lowercase[^\n]*\n$/);
  });

  it('--app resolves workspace and app secrets through the allow-list at every run; explicit env wins', async () => {
    const created = await Promise.all([
      t.api('POST', '/v1/resources/apps', { metadata: { name: 'web' }, spec: { image: 'busybox:1.36', command: ['true'], secrets: ['API_KEY', 'GLOBAL'] } }),
      t.api('POST', '/v1/resources/secrets', { metadata: { name: 'ws' }, spec: { data: { GLOBAL: 'g-value-1', HIDDEN: 'h-value' } } }),
      t.api('POST', '/v1/resources/secrets', { metadata: { name: 'web-secrets' }, spec: { app: 'web', data: { API_KEY: 'sk-first-value' } } }),
    ]);
    expect(created.map((c) => c.status)).toEqual([201, 201, 201]);
    // Printed reversed: the values themselves show as *** (secret masking).
    const show = ['run', '--app', 'web', '--', 'sh', '-c', 'echo "$API_KEY $GLOBAL ${HIDDEN:-none}" | rev'];
    const reversed = (text: string) => [...text].reverse().join('') + '\n';
    expect((await t.aegis(show)).stdout).toBe(reversed('sk-first-value g-value-1 none'));
    expect((await t.aegis(['run', '--app', 'web', '--', 'sh', '-c', 'echo "$API_KEY $GLOBAL"'])).stdout).toBe('*** ***\n');

    const cur = await t.api('GET', '/v1/resources/secrets/web-secrets');
    const put = await t.api('PUT', '/v1/resources/secrets/web-secrets', { metadata: { resourceVersion: cur.body.metadata.resourceVersion }, spec: { app: 'web', data: { API_KEY: 'sk-rotated-value' } } });
    expect(put.status).toBe(200);
    expect((await t.aegis(show)).stdout).toBe(reversed('sk-rotated-value g-value-1 none'));
    expect((await t.aegis(['run', '--app', 'web', '--env', 'API_KEY=explicit', '--', 'sh', '-c', 'echo $API_KEY'])).stdout).toBe('explicit\n');

    // The values live nowhere in plaintext: not in the database, not in the daemon's logs.
    const data = path.join(t.home, 'data');
    for (const f of fs.readdirSync(data).filter((f) => fs.statSync(path.join(data, f)).isFile())) {
      const bytes = fs.readFileSync(path.join(data, f));
      for (const v of ['sk-first-value', 'sk-rotated-value', 'g-value-1', 'h-value']) expect(bytes.includes(v), `${v} in ${f}`).toBe(false);
    }

    const missing = await t.aegis(['run', '--app', 'nope', '--', 'true']);
    expect(missing).toMatchObject({ code: 125, stderr: 'error: app "nope" not found\n' });
  });

  it('runs a task created through the resource API and tears it down after a forced delete', async () => {
    const created = await t.api('POST', '/v1/resources/tasks', { metadata: { name: 'sleeper' }, spec: { command: ['sleep', '30'] } });
    expect(created.status).toBe(201);
    const running = await waitFor(async () => {
      const r = await t.api('GET', '/v1/resources/tasks/sleeper');
      return r.body.status.phase === 'Running' && r.body.metadata.finalizers.length > 0 && r.body;
    }, { what: 'the task to run with its finalizer' });
    expect(running.metadata.finalizers).toEqual(['aegis.dev/task-machine']);
    const machineDir = path.join(t.home, 'data', 'machines', running.status.machineId);
    expect(fs.existsSync(machineDir)).toBe(true);
    expect((await t.api('DELETE', '/v1/resources/tasks/sleeper?force=true')).body.result).toBe('deleted');
    await waitFor(() => !fs.existsSync(machineDir), { what: 'the machine to be destroyed' });
  });

  it('reports bad input clearly', async () => {
    const env = await t.aegis(['run', '--env', 'NOEQUALS', '--', 'true']);
    expect(env.code).not.toBe(0);
    expect(env.stdout + env.stderr).toMatch(/--env expects KEY=VALUE/);
  });
});

describe('aegis run without a usable backend', { timeout: scaled(30_000) }, () => {
  it('exits 125 naming the cause', async () => {
    const t = withTempHome();
    try {
      t.env.AEGIS_BACKEND = 'libkrun';
      t.env.AEGIS_LIBKRUN = '/nonexistent/libkrun.so';
      expect((await t.aegis(['up'])).code).toBe(0);
      const r = await t.aegis(['run', '--', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^error: backend libkrun cannot run here: /);
      const status = await t.aegis(['status']);
      expect(status.stdout).toMatch(/backend: none/);
    } finally {
      await t.dispose();
    }
  });

  it('exits 125 when the daemon is not running', async () => {
    const t = withTempHome();
    try {
      const r = await t.aegis(['run', '--', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/aegisd is not running/);
    } finally {
      await t.dispose();
    }
  });
});
