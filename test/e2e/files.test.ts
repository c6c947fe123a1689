// Files end to end on a real daemon: aegis cp both ways (files, directories with modes and mtimes, stdout
// and stdin), bad paths, a ~64 MiB file streamed without the daemon buffering it, confinement to the
// guest's filesystem, the workload's identity, a paused instance waking, and aegis run --copy/--artifacts.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { CAN_PAUSE, scaled, scaledDuration, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const OS_RELEASE = 'NAME="Files Test"\nID=files-test\n';
const GUEST_SHADOW = 'guest-shadow-marker\n';

describe('files', { timeout: scaled(60_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  let local: string;

  const stateOf = async (app: string) => ((await t.api('GET', '/v1/instances')).body.items as { spec: { app?: string }; status: { state?: string } }[]).find((i) => i.spec.app === app)?.status.state;
  const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const daemonPid = () => Number(fs.readFileSync(path.join(t.home, 'data', 'aegisd.pid'), 'utf8'));
  const peakRssKiB = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${daemonPid()}/status`, 'utf8'))![1]);

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [
      ...busyboxEntries(),
      { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' },
      { name: 'bin/sha256sum', type: 'symlink' as const, linkname: 'busybox' },
      { name: 'bin/ln', type: 'symlink' as const, linkname: 'busybox' },
      { name: 'bin/mkdir', type: 'symlink' as const, linkname: 'busybox' },
      { name: 'etc/os-release', content: OS_RELEASE },
      { name: 'etc/shadow', content: GUEST_SHADOW, mode: 0o600 },
      { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n' },
      { name: 'www/', type: 'directory' as const },
    ];
    await pushImage(registry.url, 'test/files', '1', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    fs.writeFileSync(path.join(t.home, 'config.yaml'), `router:\n  port: 0\n  wakeTimeout: ${scaledDuration(5_000)}\nidle:\n  pauseAfter: 700ms\n  stopAfter: 10m\n`);
    expect((await t.aegis(['up'])).code).toBe(0);
    const image = `${registry.host}/test/files:1`;
    const server = ['--', 'httpd', '-f', '-p', '127.0.0.1:80', '-h', '/www'];
    for (const [name, extra] of [['web', []], ['webuser', ['--user', 'app']]] as const) {
      expect((await t.aegis(['app', 'create', '--name', name, '--image', image, '--expose', '80', ...extra, ...server])).code).toBe(0);
      expect((await t.aegis(['app', 'publish', name])).code).toBe(0);
      expect((await t.api('POST', `/v1/apps/${name}/serve`, {})).status).toBeLessThan(300);
    }
    await waitFor(async () => (await stateOf('web')) !== undefined && (await stateOf('web')) !== 'starting', { what: 'web up', timeoutMs: 20_000 });
    local = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-cp-'));
  }, scaled(90_000));

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
    if (local) fs.rmSync(local, { recursive: true, force: true });
  }, scaled(60_000));

  it('copies a directory in (exec lists it), prints a file to stdout, and names a bad path in one line', async () => {
    const data = path.join(local, 'data');
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, 'one.txt'), '1\n');
    fs.writeFileSync(path.join(data, 'two.txt'), '2\n');
    expect(await t.aegis(['cp', './data', 'web:/workspace/data'], { cwd: local })).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await t.aegis(['exec', 'web', '--', 'ls', '/workspace/data'])).toMatchObject({ code: 0, stdout: 'one.txt\ntwo.txt\n' });
    expect(await t.aegis(['cp', 'web:/etc/os-release', '-'])).toMatchObject({ code: 0, stdout: OS_RELEASE, stderr: '' });

    const missing = await t.aegis(['cp', 'web:/no/such/file', path.join(local, 'x')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toBe('error: no such file in web: /no/such/file\n');
    expect(fs.readdirSync(local)).toEqual(['data']); // nothing half-written on the host
    const missingLocal = await t.aegis(['cp', path.join(local, 'nope'), 'web:/tmp/']);
    expect(missingLocal).toMatchObject({ code: 1, stderr: `error: no such file: ${path.join(local, 'nope')}\n` });
    expect(await t.aegis(['cp', 'web:relative', '-'])).toMatchObject({ code: 1, stderr: 'error: web:relative: the path in the instance must be absolute (web:/path)\n' });
  });

  it('--timeout stops a copy that takes longer, in one line, leaving nothing in the instance; a bad one is named', async () => {
    // stdin that never ends: the upload can only finish by its timeout.
    const child = t.spawnAegis(['cp', '--timeout', '1s', '-', 'web:/tmp/never.txt']);
    child.stdin!.write('partial\n');
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin!.destroy();
    expect(Date.now() - started).toBeLessThan(scaled(10_000));
    expect({ code, stderr }).toEqual({ code: 1, stderr: 'error: - → web:/tmp/never.txt: timed out after 1s; the copy was stopped\n' });
    expect((await t.aegis(['exec', 'web', '--', 'test', '-e', '/tmp/never.txt'])).code).toBe(1);
    expect(await t.aegis(['cp', '--timeout', '5m', 'web:/etc/os-release', '-'])).toMatchObject({ code: 0, stdout: OS_RELEASE });
    expect(await t.aegis(['cp', '--timeout', 'soon', 'web:/etc/os-release', '-'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: --timeout soon: expected a duration such as 500ms/) });
  });

  it('round-trips a directory with modes and mtimes, and streams stdin in and a tar out', async () => {
    const tree = path.join(local, 'tree');
    fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'bin/run'), '#!/bin/sh\necho run\n', { mode: 0o755 });
    fs.writeFileSync(path.join(tree, 'private'), 'p', { mode: 0o600 });
    fs.symlinkSync('bin/run', path.join(tree, 'link'));
    fs.chmodSync(path.join(tree, 'bin'), 0o750);
    const mtimes = { 'bin/run': 1_600_000_000, private: 1_500_000_000, bin: 1_400_000_000, '.': 1_300_000_000 };
    for (const [p, s] of Object.entries(mtimes)) fs.utimesSync(path.join(tree, p), s, s);
    expect((await t.aegis(['cp', tree, 'web:/srv/tree'])).code).toBe(0);
    expect((await t.aegis(['exec', 'web', '--', 'stat', '-c', '%n %a %Y', '/srv/tree', '/srv/tree/bin', '/srv/tree/bin/run', '/srv/tree/private'])).stdout).toBe(
      `/srv/tree 755 ${mtimes['.']}\n/srv/tree/bin 750 ${mtimes.bin}\n/srv/tree/bin/run 755 ${mtimes['bin/run']}\n/srv/tree/private 600 ${mtimes.private}\n`,
    );
    const back = path.join(local, 'back');
    expect((await t.aegis(['cp', 'web:/srv/tree', back])).code).toBe(0);
    for (const p of ['.', 'bin', 'bin/run', 'private']) {
      const [a, b] = [fs.statSync(path.join(tree, p)), fs.statSync(path.join(back, p))];
      expect([p, b.mode & 0o7777, Math.floor(b.mtimeMs / 1000)]).toEqual([p, a.mode & 0o7777, Math.floor(a.mtimeMs / 1000)]);
    }
    expect(fs.readlinkSync(path.join(back, 'link'))).toBe('bin/run');
    // stdin is the file's bytes; stdout of a directory is a tar stream.
    expect((await t.aegis(['cp', '-', 'web:/tmp/from-stdin.txt'], { input: 'piped\n' })).code).toBe(0);
    expect((await t.aegis(['exec', 'web', '--', 'cat', '/tmp/from-stdin.txt'])).stdout).toBe('piped\n');
    const tar = await t.aegis(['cp', 'web:/srv/tree', '-']);
    expect(tar.code).toBe(0);
    expect(tar.stdout).toContain('bin/run');
    expect(tar.stdout.length % 512).toBe(0);
  });

  it('streams a 64 MiB file both ways without the daemon holding it', async () => {
    const big = path.join(local, 'big.bin');
    fs.writeFileSync(big, randomBytes(64 * 1024 * 1024));
    const before = peakRssKiB();
    expect(await t.aegis(['cp', big, 'web:/tmp/big.bin'], { timeoutMs: 60_000 })).toMatchObject({ code: 0 });
    expect((await t.aegis(['exec', 'web', '--', 'sha256sum', '/tmp/big.bin'])).stdout.split(' ')[0]).toBe(sha(big));
    const back = path.join(local, 'big.back');
    expect(await t.aegis(['cp', 'web:/tmp/big.bin', back], { timeoutMs: 60_000 })).toMatchObject({ code: 0 });
    expect(sha(back)).toBe(sha(big));
    // 128 MiB went through the daemon: its peak memory grew by far less than one copy of the file.
    expect(peakRssKiB() - before).toBeLessThan(32 * 1024);
    fs.rmSync(big);
    fs.rmSync(back);
  });

  it("resolves .. and symlinks inside the guest: a link to /etc/shadow reads the guest's file, never the host's", async () => {
    const hostShadow = fs.readFileSync('/etc/shadow', 'utf8');
    expect(hostShadow).not.toBe(GUEST_SHADOW);
    expect((await t.aegis(['exec', 'web', '--', 'sh', '-c', 'ln -s /etc/shadow /workspace/shadow-link && ln -s ../../../../../../etc /workspace/up && echo ok'])).stdout).toBe('ok\n');
    for (const p of ['/workspace/shadow-link', '/../../../../etc/shadow', '/workspace/up/shadow', '/workspace/../../etc/./shadow']) {
      expect(await t.aegis(['cp', `web:${p}`, '-'])).toMatchObject({ code: 0, stdout: GUEST_SHADOW });
    }
    // Writing through a link to a host path lands in the guest, under that name.
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-host-side-'));
    try {
      expect((await t.aegis(['exec', 'web', '--', 'sh', '-c', `mkdir -p ${hostDir} && ln -s ${hostDir} /workspace/out-link && echo ok`])).stdout).toBe('ok\n');
      expect((await t.aegis(['cp', '-', 'web:/workspace/out-link/planted'], { input: 'x' })).code).toBe(0);
      expect(fs.readdirSync(hostDir)).toEqual([]);
      expect((await t.aegis(['exec', 'web', '--', 'cat', `${hostDir}/planted`])).stdout).toBe('x');
    } finally {
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
    // The harness's own places stay out of reach: its control socket, its process.
    const control = await t.aegis(['cp', 'web:/.aegis-control/control.sock', '-']);
    expect(control).toMatchObject({ code: 1, stderr: "error: /.aegis-control/control.sock in web: belongs to the machine's harness (its control channel)\n" });
    expect((await t.aegis(['cp', 'web:/proc/1/environ', '-'])).code).toBe(1);
  });

  it("runs as the instance's user: root-only files stay closed, new files belong to that user", async () => {
    const denied = await t.aegis(['cp', 'webuser:/etc/shadow', '-']);
    expect(denied).toMatchObject({ code: 1, stderr: 'error: /etc/shadow in webuser: permission denied\n' });
    expect((await t.aegis(['cp', '-', 'webuser:/tmp/mine'], { input: 'm' })).code).toBe(0);
    expect((await t.aegis(['exec', 'webuser', '--', 'stat', '-c', '%u', '/tmp/mine'])).stdout).toBe('1000\n');
  });

  it.runIf(CAN_PAUSE)('wakes a paused instance', async () => {
    await waitFor(async () => (await stateOf('web')) === 'paused', { what: 'web paused', timeoutMs: 10_000 });
    expect(await t.aegis(['cp', 'web:/etc/os-release', '-'])).toMatchObject({ code: 0, stdout: OS_RELEASE });
    expect(await stateOf('web')).toMatch(/running|paused/);
  });

  it('aegis run --copy seeds the machine before the command, --artifacts brings results back; a missing one fails', async () => {
    const input = path.join(local, 'input');
    fs.mkdirSync(input);
    fs.writeFileSync(path.join(input, 'n.txt'), '21\n');
    const out = path.join(local, 'results');
    const r = await t.aegis(['run', '--copy', `${input}:/job/in`, '--artifacts', `/job/out:${out}`, '--', 'sh', '-c', 'mkdir -p /job/out && cat /job/in/n.txt > /job/out/seen.txt && echo done']);
    expect(r).toMatchObject({ code: 0, stdout: 'done\n', stderr: '' });
    expect(fs.readFileSync(path.join(out, 'seen.txt'), 'utf8')).toBe('21\n');

    const missing = await t.aegis(['run', '--artifacts', `/job/none:${path.join(local, 'none')}`, '--', 'sh', '-c', 'echo ran; exit 3']);
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe('ran\n');
    expect(missing.stderr).toMatch(/^error: --artifacts \/job\/none: no such file in task task-[0-9a-f]+: \/job\/none \(the command exited with 3\)\n$/);
    expect((await t.aegis(['run', '--artifacts', `/job/none:${path.join(local, 'none')}`, '--', 'true'])).code).toBe(1);
    expect(fs.existsSync(path.join(local, 'none'))).toBe(false);
  });
});
