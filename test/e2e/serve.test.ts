// Serve mode end to end: instances behind the router, idle pause and stop, wake on request, exec, logs.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { CAN_PAUSE, ON_QEMU, scaled, scaledDuration, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { httpGet } from '../support/http-get.js';

interface InstanceView {
  metadata: { uid: string; name: string };
  spec: { app?: string };
  status: { state?: string; connections?: number; lastActiveAt?: string; endpoints?: { port: number; hostPort?: number }[] };
}

// Waking a stopped instance boots (or restores) a machine: the per-test budget follows the backend.
describe('serve mode', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  let router: string;

  const instances = async () => (await t.api('GET', '/v1/instances')).body.items as InstanceView[];
  const instanceOf = async (app: string) => (await instances()).find((i) => i.spec.app === app);
  const stateOf = async (id: string) => ((await t.api('GET', `/v1/instances/${id}`)).body as InstanceView).status.state;
  const get = (url: string, headers: Record<string, string> = {}) => httpGet(url, { headers });
  /** What an instance idle past pauseAfter is: paused, or still running on a backend that cannot pause (libkrun). */
  const IDLE = CAN_PAUSE ? 'paused' : 'running';
  /** Idle until the stop: pauseAfter (0.7 s) + stopAfter (3 s), with room for a slow host. */
  const STOP_WAIT_MS = 10_000;

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [...busyboxEntries(), { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' }, { name: 'www/index.html', content: 'hello from myapp\n' }];
    await pushImage(registry.url, 'test/web', '1', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    // Short idle times so pause and stop happen within the test (stopAfter leaves a slow CLI room to look at a
    // paused instance); a wake must still outlast a boot.
    fs.writeFileSync(path.join(t.home, 'config.yaml'), `router:\n  port: 0\n  wakeTimeout: ${scaledDuration(5_000)}\nidle:\n  pauseAfter: 700ms\n  stopAfter: 3s\n`);
    expect((await t.aegis(['up'])).code).toBe(0);
    router = (await t.api('GET', '/v1/status')).body.router;
    expect(router).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const image = `${registry.host}/test/web:1`;
    expect((await t.aegis(['app', 'create', '--name', 'myapp', '--image', image, '--expose', '80', '--', 'sh', '-c', 'echo server starting; exec httpd -f -v -p 127.0.0.1:80 -h /www'])).code).toBe(0);
    expect((await t.aegis(['app', 'publish', 'myapp', '--label', 'v1'])).code).toBe(0);
  }, scaled(60_000));

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  it('app serve prints the seed lines, routes by Host, prefix and header, and Ctrl+C deletes the instance', async () => {
    const child = t.spawnAegis(['app', 'serve', 'myapp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('Press Ctrl+C to stop'), { what: 'serve output' });
    const inst = (await instanceOf('myapp'))!;
    expect(out).toBe(`Serving myapp on ${router}\nInstance: ${inst.metadata.uid}\nPress Ctrl+C to stop\n`);
    // A second serve returns the same instance.
    expect((await t.api('POST', '/v1/apps/myapp/serve', {})).body.metadata.uid).toBe(inst.metadata.uid);

    // The server binds the guest's 127.0.0.1 only: traffic still reaches it through the channel's forward.
    const port = router.split(':').pop();
    expect(await get(`${router}/`, { host: `myapp.localhost:${port}` })).toMatchObject({ status: 200, body: 'hello from myapp\n' });
    expect(await get(`${router}/app/myapp/index.html`)).toMatchObject({ status: 200, body: 'hello from myapp\n' });
    expect(await get(`${router}/index.html`, { 'x-aegis-app': 'myapp' })).toMatchObject({ status: 200 });
    const unknown = await get(`${router}/`, { 'x-aegis-app': 'other' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('No app named "other"');
    expect(unknown.body).not.toContain('myapp');

    // The per-port listener reaches the same server.
    const hostPort = (await waitFor(async () => (await instanceOf('myapp'))?.status.endpoints?.[0]?.hostPort, { what: 'endpoint' }))!;
    expect(await get(`http://127.0.0.1:${hostPort}/`)).toMatchObject({ status: 200, body: 'hello from myapp\n' });

    child.kill('SIGINT');
    expect(await new Promise((r) => child.on('close', r))).toBe(0);
    await waitFor(async () => (await instanceOf('myapp')) === undefined, { what: 'instance deletion' });
  });

  it('pauses when idle (where the backend can), stops later, and a request wakes it (the wait is part of the request)', async () => {
    const inst = (await t.api('POST', '/v1/apps/myapp/serve', {})).body as InstanceView;
    const id = inst.metadata.uid;
    await waitFor(async () => (await stateOf(id)) === 'running', { what: 'running' });
    if (CAN_PAUSE) {
      await waitFor(async () => (await stateOf(id)) === 'paused', { what: 'paused', timeoutMs: 5_000 });
      // A paused instance resumes for a request.
      expect(await get(`${router}/app/myapp/`)).toMatchObject({ status: 200, body: 'hello from myapp\n' });
    }
    await waitFor(async () => (await stateOf(id)) === 'stopped', { what: 'stopped', timeoutMs: STOP_WAIT_MS });
    // A stopped one boots again.
    expect(await get(`${router}/app/myapp/`)).toMatchObject({ status: 200, body: 'hello from myapp\n' });
    expect(await stateOf(id)).toBe('running');
    const info = await t.aegis(['instance', 'info', id]);
    // It may pause again (pauseAfter) before the CLI asks, when starting the CLI is slow.
    expect(info.stdout).toMatch(new RegExp(`^ID: {10}${id}\\nState: {7}(running|paused)\\nApp: {9}app-[0-9a-f]{20}\\nRelease: {5}rel-[0-9a-f]{20}\\nCommand: {5}sh -c 'echo server starting; exec httpd -f -v -p 127\\.0\\.0\\.1:80 -h /www'\\nPorts: {7}80\\n`));
    expect(info.stdout).toMatch(/\nConnections: \d+\nCreated: {5}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\nLast Active: \d{4}-/);
    const list = await t.aegis(['instance', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^ID {29}STATE {6}APP {18}CONNS\\n${id} +(running|paused) +app-[0-9a-f]{20} +\\d+\\n`));
  });

  it('exec runs in the instance (resuming a paused one), keeps streams apart and returns the exit code; a stopped one is refused', async () => {
    const id = (await instanceOf('myapp'))!.metadata.uid;
    await waitFor(async () => (await stateOf(id)) === IDLE, { what: IDLE, timeoutMs: 5_000 });
    const r = await t.aegis(['exec', 'myapp', '--env', 'X=42', '--', 'sh', '-c', 'echo out $X; echo err >&2; cat /www/index.html; exit 7']);
    expect(r).toMatchObject({ code: 7, stdout: 'out 42\nhello from myapp\n', stderr: 'err\n' });
    expect(await t.aegis(['exec', id, '-i', '--', 'cat'], { input: 'piped stdin\n' })).toMatchObject({ code: 0, stdout: 'piped stdin\n' });
    await waitFor(async () => (await stateOf(id)) === 'stopped', { what: 'stopped', timeoutMs: STOP_WAIT_MS });
    const refused = await t.aegis(['exec', 'myapp', '--', 'true']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`error: instance ${id} is stopped; it starts again on its next connection (or: aegis app serve)\n`);
  });

  it('keeps changes to the rootfs across stop and start of the same instance', async () => {
    const id = (await instanceOf('myapp'))!.metadata.uid;
    expect((await get(`${router}/app/myapp/`)).status).toBe(200);
    expect((await t.aegis(['exec', 'myapp', '--', 'sh', '-c', 'echo kept > /etc/state-marker'])).code).toBe(0);
    await waitFor(async () => (await stateOf(id)) === 'stopped', { what: 'stopped', timeoutMs: STOP_WAIT_MS });
    expect((await get(`${router}/app/myapp/`)).status).toBe(200);
    expect(await t.aegis(['exec', 'myapp', '--', 'cat', '/etc/state-marker'])).toMatchObject({ code: 0, stdout: 'kept\n' });
    // The kept layer: an ext4 disk image of the instance's, on every backend.
    const kept = path.join(t.home, 'data', 'instances', id, 'rootfs');
    expect(fs.existsSync(path.join(kept, 'upper.ext4'))).toBe(true);
  });

  it('logs keep server output, exec output and system lines, from the file', async () => {
    const id = (await instanceOf('myapp'))!.metadata.uid;
    const logs = await t.aegis(['logs', 'myapp']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('server starting\n');
    expect(logs.stdout).toContain('out 42\n');
    expect(logs.stdout).toMatch(/machine mach-\S+ booted/);
    expect(logs.stdout).toContain(CAN_PAUSE ? 'paused (idle)' : 'without traffic (the libkrun backend cannot pause)');
    // The boot itself is logged: the harness's start-up line from the machine's console.
    const boot = await t.aegis(['logs', 'myapp', '--source', 'boot']);
    expect(boot.stdout).toMatch(/aegis-harness: listening on /);
    const json = await t.aegis(['app', 'logs', 'myapp', '--json', '--source', 'exec']);
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(e).toMatchObject({ source: 'exec', instance: id, app: 'myapp' });
    expect(fs.existsSync(path.join(t.home, 'data', 'logs', `${id}.ndjson`))).toBe(true);
  });

  it('run --expose serves an ad-hoc command; a server that keeps exiting is logged and backed off', async () => {
    const child = t.spawnAegis(['run', '--expose', '8080', '--', 'sh', '-c', 'echo bye; exit 3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('Press Ctrl+C to stop'), { what: 'serve output' });
    expect(out).toMatch(new RegExp(`^Serving on ${router.replace(/\./g, '\\.')}\\nInstance: inst-[0-9a-f]{20}\\nPress Ctrl\\+C to stop\\n$`));
    const id = out.match(/Instance: (\S+)/)![1]!;
    await waitFor(async () => (await stateOf(id)) === 'stopped', { what: 'stopped after exit' });
    await waitFor(async () => (await t.aegis(['logs', id])).stdout.includes('server exited with code 3'), { what: 'exit logged' });
    // Woken again right away it dies again; the next wake is refused for a while instead of a tight loop.
    await get(`${router}/`, { 'x-aegis-app': id });
    await waitFor(async () => (await stateOf(id)) === 'stopped', { what: 'stopped again' });
    const backedOff = await get(`${router}/`, { 'x-aegis-app': id, accept: 'text/html' });
    expect(backedOff.status).toBe(503);
    expect(Number(backedOff.headers['retry-after'])).toBeGreaterThan(0);
    expect(backedOff.body).toContain('http-equiv="refresh"');
    child.kill('SIGINT');
    expect(await new Promise((r) => child.on('close', r))).toBe(0);
  });

  it('serves two apps at once, each by host and by prefix, neither answering for the other', async () => {
    await t.aegis(['app', 'create', '--name', 'second', '--image', `${registry.host}/test/web:1`, '--expose', '80', '--', 'sh', '-c', 'echo second > /www/index.html; exec httpd -f -p 80 -h /www']);
    expect((await t.aegis(['app', 'publish', 'second'])).code).toBe(0);
    await t.api('POST', '/v1/apps/myapp/serve', {});
    await t.api('POST', '/v1/apps/second/serve', {});
    const port = router.split(':').pop();
    for (let i = 0; i < 3; i++) {
      expect(await get(`${router}/`, { host: `myapp.localhost:${port}` })).toMatchObject({ status: 200, body: 'hello from myapp\n' });
      expect(await get(`${router}/`, { host: `second.localhost:${port}` })).toMatchObject({ status: 200, body: 'second\n' });
      expect(await get(`${router}/app/myapp/`)).toMatchObject({ body: 'hello from myapp\n' });
      expect(await get(`${router}/app/second/`)).toMatchObject({ body: 'second\n' });
    }
    // With two apps served, a request that names none is not guessed.
    const unnamed = await get(`${router}/`);
    expect(unnamed.status).toBe(404);
    expect(unnamed.body).toContain('No app was chosen for this request.');
    expect(unnamed.body).not.toContain('myapp');
    expect(unnamed.body).not.toContain('second');
    expect((await get(`${router}/`, { host: `third.localhost:${port}` })).status).toBe(404);
  });

  it('a long exec and an open download keep the instance running past pauseAfter', async () => {
    const id = (await instanceOf('second'))!.metadata.uid;
    await waitFor(async () => (await stateOf(id)) === 'running' || (await stateOf(id)) === 'paused', { what: 'up' });
    // Running all along an exec twice as long as pauseAfter (0.7 s), watched while it runs.
    let done = false;
    const exec = t.aegis(['exec', 'second', '--', 'sleep', String(scaled(1_400) / 1000)]).finally(() => (done = true));
    const seen = new Set<string | undefined>();
    while (!done) {
      seen.add(await stateOf(id));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await exec).code).toBe(0);
    expect([...seen]).toEqual(['running']);
    // A client that holds a connection open (a slow download) counts too.
    const socket = (await import('node:net')).connect(Number(router.split(':').pop()), '127.0.0.1');
    socket.write(`GET /app/second/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await new Promise((r) => socket.once('data', r));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await stateOf(id)).toBe('running');
    expect(((await t.api('GET', `/v1/instances/${id}`)).body as InstanceView).status.connections).toBeGreaterThanOrEqual(1);
    socket.destroy();
    const after = CAN_PAUSE ? 'paused' : 'stopped';
    await waitFor(async () => (await stateOf(id)) === after, { what: `${after} after the connection closed`, timeoutMs: CAN_PAUSE ? 5_000 : STOP_WAIT_MS });
  });

  // qemu: QemuMachine.stats() reports no cpuMicros, so nothing keeps a busy VM awake yet (a product gap).
  it('a server busy without any connection (CPU above the noise floor) is not paused', async () => {
    const child = t.spawnAegis(['run', '--expose', '9000', '--', 'sh', '-c', 'while :; do :; done'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('Press Ctrl+C'), { what: 'serve output' });
    const id = out.match(/Instance: (\S+)/)![1]!;
    await waitFor(async () => (await stateOf(id)) === 'running', { what: 'running' });
    // The look at the time it would pause (pauseAfter, or where the backend cannot pause, pauseAfter + stopAfter)
    // finds it busy and counts that as activity: Last Active moves past that time and it runs on.
    const idleForMs = CAN_PAUSE ? 700 : 3_700;
    const heartbeat = await waitFor(async () => {
      const st = ((await t.api('GET', `/v1/instances/${id}`)).body as InstanceView & { status: { startedAt?: string } }).status;
      return Date.parse(st.lastActiveAt ?? '') >= Date.parse(st.startedAt ?? '') + idleForMs ? st : undefined;
    }, { what: 'the CPU heartbeat to count as activity' });
    expect(heartbeat?.state).toBe('running');
    expect(await stateOf(id)).toBe('running');
    child.kill('SIGINT');
    expect(await new Promise((r) => child.on('close', r))).toBe(0);
  });

  it('an exec cut off by the instance stopping exits 255 (the API says -1)', async () => {
    const inst = (await t.api('POST', '/v1/apps/myapp/serve', {})).body as InstanceView;
    // It may have stopped while idle: a request wakes it.
    expect((await get(`${router}/app/myapp/`)).status).toBe(200);
    const exec = t.aegis(['exec', inst.metadata.uid, '--', 'sleep', '30']);
    // Cut it off once it runs: an exec starts in ~0.5 s on a VM.
    await new Promise((r) => setTimeout(r, scaled(800)));
    await t.api('DELETE', `/v1/instances/${inst.metadata.uid}`);
    const r = await exec;
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/^error: /);
  });

  it('keeps instance logs across a daemon restart', async () => {
    const id = (await t.api('POST', '/v1/apps/second/serve', {})).body.metadata.uid as string;
    await waitFor(async () => (await t.aegis(['logs', id])).stdout.includes('booted'), { what: 'boot logged' });
    expect((await t.aegis(['down'])).code).toBe(0);
    expect((await t.aegis(['up'])).code).toBe(0);
    router = (await t.api('GET', '/v1/status')).body.router;
    const logs = await t.aegis(['logs', id]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/machine mach-\S+ booted/);
    // The instance is served again by the new daemon.
    expect(await get(`${router}/app/second/`)).toMatchObject({ status: 200, body: 'second\n' });
  });

  it('app delete stops and deletes the app\'s instance first', async () => {
    const id = (await t.api('POST', '/v1/apps/second/serve', {})).body.metadata.uid as string;
    expect(await t.aegis(['app', 'delete', 'second'])).toMatchObject({ code: 0, stdout: 'App "second" deleted\n' });
    expect((await t.api('GET', `/v1/instances/${id}`)).status).toBe(404);
    expect(fs.existsSync(path.join(t.home, 'data', 'instances', id))).toBe(false);
    expect(fs.readdirSync(path.join(t.home, 'data', 'machines')).filter((m) => fs.existsSync(path.join(t.home, 'data', 'machines', m, 'state.json')))).toEqual([]);
  });

  it('refuses to serve an app without a port or without a release', async () => {
    await t.aegis(['app', 'create', '--name', 'noport', '--image', `${registry.host}/test/web:1`, '--', 'true']);
    expect(await t.aegis(['app', 'serve', 'noport'])).toMatchObject({ code: 1, stderr: 'error: app "noport" exposes no port, so there is nothing to serve; recreate it with --expose PORT\n' });
    await t.aegis(['app', 'create', '--name', 'unpublished', '--image', `${registry.host}/test/web:1`, '--expose', '80', '--', 'true']);
    expect(await t.aegis(['app', 'serve', 'unpublished'])).toMatchObject({ code: 1, stderr: 'error: app "unpublished" has no published release; run: aegis app publish unpublished\n' });
  });
});
