// `aegis run --image` and `aegis image …` end to end: the built CLI, a real daemon, a real registry, sandbox machines.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage, writeDockerArchive, writeOciLayout, type BuiltImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { AEGIS_BIN, withTempHome, type TempHome } from '../support/temp-home.js';

describe('images end to end', () => {
  let t: TempHome;
  let registry: TestRegistry;
  let tool: BuiltImage;
  let ref: string;

  beforeAll(async () => {
    registry = await startRegistry();
    tool = await buildImage({
      layers: [
        { entries: [...busyboxEntries(), { name: 'etc/lower-only', content: 'lower\n' }, { name: 'opq/a', content: 'a' }, { name: 'opq/b', content: 'b' }] },
        {
          entries: [
            { name: 'etc/marker', content: 'marker-from-image\n' },
            { name: 'etc/.wh.lower-only', content: '' },
            { name: 'opq/.wh..wh..opq', content: '' },
            { name: 'opq/c', content: 'c' },
          ],
        },
      ],
      config: { Env: ['PATH=/bin', 'FROM_IMAGE=yes'], WorkingDir: '/opq' },
    });
    await pushImage(registry.url, 'test/tool', '1', tool);
    ref = `${registry.host}/test/tool:1`;
    t = withTempHome();
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  });

  it('runs a command in the image; a second run makes no registry request', async () => {
    const first = await t.aegis(['run', '--image', ref, '--', 'cat', '/etc/marker']);
    expect(first).toMatchObject({ code: 0, stdout: 'marker-from-image\n', stderr: '' });
    await registry.waitForRequests((r) => r.some((q) => q.path.includes('/blobs/')));
    registry.clearRequests();
    const second = await t.aegis(['run', '--image', ref, '--', 'cat', '/etc/marker']);
    expect(second).toMatchObject({ code: 0, stdout: 'marker-from-image\n' });
    // The access log line of a request lands just after its response: give a stray one time to show up.
    await new Promise((r) => setTimeout(r, 300));
    expect(registry.requests()).toEqual([]);
  });

  it('applies whiteouts and opaque dirs, and the image env and working dir', async () => {
    const r = await t.aegis(['run', '--image', ref, '--', 'sh', '-c', 'ls /opq; test -e /etc/lower-only && echo present || echo absent; pwd; echo $FROM_IMAGE']);
    expect(r).toMatchObject({ code: 0, stdout: 'c\nabsent\n/opq\nyes\n' });
  });

  it('writes of one run do not reach the image or the next run', async () => {
    expect((await t.aegis(['run', '--image', ref, '--', 'sh', '-c', 'echo changed > /etc/marker; rm /bin/ls']))).toMatchObject({ code: 0 });
    expect(await t.aegis(['run', '--image', ref, '--', 'sh', '-c', 'cat /etc/marker; test -e /bin/ls && echo ls-ok'])).toMatchObject({ code: 0, stdout: 'marker-from-image\nls-ok\n' });
  });

  it('fails with exit 125 and one line naming the cause for unknown tags, unreachable registries and --pull never', async () => {
    const unknown = await t.aegis(['run', '--image', `${registry.host}/test/tool:nope`, '--', 'true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toBe(`error: registry ${registry.host} has no manifest nope in test/tool (MANIFEST_UNKNOWN: manifest unknown)\n`);
    const down = await t.aegis(['run', '--image', '127.0.0.1:1/test/tool:1', '--', 'true']);
    expect(down).toMatchObject({ code: 125, stderr: 'error: cannot reach registry 127.0.0.1:1: connection refused\n' });
    const never = await t.aegis(['run', '--pull', 'never', '--image', `${registry.host}/test/other:1`, '--', 'true']);
    expect(never).toMatchObject({ code: 125, stderr: `error: image ${registry.host}/test/other:1 is not in the cache and the pull policy is never\n` });
  });

  it('pulls from an OCI layout and a docker archive given relative to the working directory', async () => {
    const dir = fs.mkdtempSync(path.join(t.home, 'src-'));
    writeOciLayout(path.join(dir, 'layout'), [{ image: tool, tag: 'v1' }]);
    await writeDockerArchive(path.join(dir, 'tool.tar'), tool, 'test/tool:1');
    const fromLayout = await t.aegis(['run', '--image', 'oci:layout:v1', '--', 'cat', '/etc/marker'], { cwd: dir });
    expect(fromLayout).toMatchObject({ code: 0, stdout: 'marker-from-image\n' });
    const pulled = await t.aegis(['image', 'pull', 'docker-archive:tool.tar'], { cwd: dir });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toMatch(new RegExp(`^docker-archive:${dir}/tool.tar sha256:[0-9a-f]{64} \\d`));
  });

  it('draws pull progress on a terminal and clears it (and stays quiet when piped, as above)', async () => {
    // util-linux script(1) gives the CLI a pseudo-terminal; --pull always makes it talk to the registry.
    const cmd = `'${process.execPath}' '${AEGIS_BIN}' image pull --pull always ${ref}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: t.env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toContain(`\r\x1b[2KPulling ${ref}: resolving`);
    expect(r.stdout).toMatch(new RegExp(`\\r\\x1b\\[2K${ref.replace(/\./g, '\\.')} sha256:[0-9a-f]{64} `));
  });

  it('lists, removes and prunes cached images', async () => {
    const list = await t.aegis(['image', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^IMAGE\s+DIGEST\s+SIZE\s+PULLED$/);
    expect(list.stdout).toMatch(new RegExp(`\\n${ref} +${tool.manifestDigest.slice(0, 19)} +1\\.\\d MB +\\d{4}-`));

    const rm = await t.aegis(['image', 'rm', ref]);
    expect(rm).toMatchObject({ code: 0 });
    expect(rm.stdout).toMatch(new RegExp(`^Removed ${ref} \\(`));
    expect((await t.aegis(['image', 'list'])).stdout).not.toContain(ref);
    expect(await t.aegis(['image', 'rm', ref])).toMatchObject({ code: 1, stderr: `error: image ${ref} is not in the cache\n` });

    const prune = await t.aegis(['image', 'prune']);
    expect(prune.code).toBe(0);
    expect(prune.stdout).toMatch(/image(s)? removed, .* freed\n$/);
    expect(await t.aegis(['image', 'list'])).toMatchObject({ code: 0, stdout: 'No images. Pull one with: aegis image pull REF\n' });
    const images = path.join(t.home, 'data', 'images');
    expect(fs.readdirSync(path.join(images, 'layers', 'sha256'))).toEqual([]);
    expect(fs.readdirSync(path.join(images, 'blobs', 'sha256'))).toEqual([]);
  });
});
