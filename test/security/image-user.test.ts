// Issue 21 item 14: an image's USER was ignored and its command ran as root. It now runs as the image's
// user (numeric or named, from the image's /etc/passwd and /etc/group), in tasks, served instances and
// their execs, unless the spec or `--user` says otherwise; an unknown name is a one-line error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage, type ImageConfigSpec } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:App user:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\napp:x:2345:\nstaff:x:3456:app\nnogroup:x:65534:\n';
const WHO = ['sh', '-c', 'echo "$(id -u):$(id -g) $HOME"'];

describe("commands run as the image's user", () => {
  let t: TempHome;
  let registry: TestRegistry;

  /** Pushes a busybox image with our passwd and group files and `config`, and returns its ref. */
  const image = async (tag: string, config: ImageConfigSpec, withDb = true) => {
    const entries = [...busyboxEntries(), ...(withDb ? [{ name: 'etc/passwd', content: PASSWD }, { name: 'etc/group', content: GROUP }, { name: 'home/app/', type: 'directory' as const }] : [])];
    await pushImage(registry.url, 'test/user', tag, await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'], ...config } }));
    return `${registry.host}/test/user:${tag}`;
  };
  const run = (ref: string, argv: string[], flags: string[] = []) => t.aegis(['run', '--image', ref, ...flags, '--', ...argv]);

  let numeric: string;
  let named: string;
  let namedGroup: string;
  let ghost: string;

  beforeAll(async () => {
    registry = await startRegistry();
    // No /etc/passwd at all: numeric ids need none.
    numeric = await image('numeric', { User: '65534:65534' }, false);
    named = await image('named', { User: 'app' });
    namedGroup = await image('named-group', { User: 'app:staff' });
    ghost = await image('ghost', { User: 'ghost' });
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  });

  it('runs a task as USER 65534:65534, not as root', async () => {
    const r = await run(numeric, ['id', '-u']);
    expect(r).toMatchObject({ code: 0, stdout: '65534\n' });
    expect(await run(numeric, WHO)).toMatchObject({ code: 0, stdout: '65534:65534 /\n' });
    // The user cannot write where only root may.
    expect((await run(numeric, ['sh', '-c', 'echo x > /root/owned'])).code).not.toBe(0);
  });

  it('resolves a named user and group from the image, with HOME from /etc/passwd', async () => {
    expect(await run(named, WHO)).toMatchObject({ code: 0, stdout: '1234:2345 /home/app\n' });
    expect(await run(namedGroup, WHO)).toMatchObject({ code: 0, stdout: '1234:3456 /home/app\n' });
  });

  it('--user overrides the image, 0 meaning root', async () => {
    expect(await run(numeric, WHO, ['--user', '0'])).toMatchObject({ code: 0, stdout: '0:0 /root\n' });
    expect(await run(named, WHO, ['--user', 'nobody:staff'])).toMatchObject({ code: 0, stdout: '65534:3456 /nonexistent\n' });
  });

  it('refuses a user the image does not have, in one line', async () => {
    const r = await run(ghost, ['id', '-u']);
    expect(r).toMatchObject({ code: 126, stdout: '', stderr: 'aegis: user "ghost": no such user in /etc/passwd\n' });
    const badGroup = await run(named, ['id'], ['--user', 'app:nogroup-here']);
    expect(badGroup).toMatchObject({ code: 126, stderr: 'aegis: user "app:nogroup-here": no group "nogroup-here" in /etc/group\n' });
    const malformed = await run(named, ['id'], ['--user', 'a b']);
    expect(malformed.code).toBe(125);
    expect(malformed.stderr).toMatch(/^error: .*"a b" is not a uid or user name/);
    expect(malformed.stderr.trimEnd()).not.toContain('\n');
  });

  it('serves as the image user, and execs default to it', async () => {
    const serve = t.spawnAegis(['run', '--expose', '8080', '--image', named, '--', 'sh', '-c', 'echo "server $(id -u)"; exec sleep 600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => /Instance: (\S+)/.test(out), { what: 'serve output' });
    const id = out.match(/Instance: (\S+)/)![1]!;
    await waitFor(async () => (await t.aegis(['logs', id])).stdout.includes('[server] server 1234'), { what: 'server running as app' });
    expect(await t.aegis(['exec', id, '--', ...WHO])).toMatchObject({ code: 0, stdout: '1234:2345 /home/app\n' });
    expect(await t.aegis(['exec', '--user', '0', id, '--', 'id', '-u'])).toMatchObject({ code: 0, stdout: '0\n' });
  });
});
