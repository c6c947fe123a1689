// The reference's "Aegis Is Not Docker" table, checked row by row against a real image in a real registry:
// each row's verdict (Applied or Ignored) must be what Aegis does, and so must the rest of what it says.
// A row without a check here, or a check without a row, fails the test.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { ROOT, scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const REFERENCE = fs.readFileSync(path.join(ROOT, 'docs', 'aegis-cli-reference.md'), 'utf8');

/** The table's rows: Docker concept → what the reference says Aegis does with it. */
function dockerTable(): [string, string][] {
  const section = REFERENCE.slice(REFERENCE.indexOf('## Aegis Is Not Docker'));
  const table = section.slice(0, section.indexOf('\n---'));
  return [...table.matchAll(/^\| `([A-Z]+)` \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!]);
}

type Verdict = 'Applied' | 'Ignored';
const APP_USER = { uid: 1234, name: 'agent', home: '/home/agent' };

describe('the reference\'s "Aegis Is Not Docker" table holds for a real image', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  /** An image that sets every field the table names. */
  let full: string;
  /** The same files, no config at all. */
  let plain: string;
  let missingWorkdir: string;

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [
      ...busyboxEntries(),
      { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' },
      { name: 'etc/passwd', content: `root:x:0:0:root:/root:/bin/sh\n${APP_USER.name}:x:${APP_USER.uid}:${APP_USER.uid}::${APP_USER.home}:/bin/sh\n` },
      { name: 'etc/group', content: `root:x:0:\n${APP_USER.name}:x:${APP_USER.uid}:\n` },
      { name: 'home/', type: 'directory' as const },
      { name: `${APP_USER.home.slice(1)}/`, type: 'directory' as const, uid: APP_USER.uid, gid: APP_USER.uid },
      { name: 'srv/', type: 'directory' as const },
      { name: 'data/', type: 'directory' as const, mode: 0o777 },
    ];
    const push = async (repo: string, config: Parameters<typeof buildImage>[0]['config']) => {
      await pushImage(registry.url, repo, '1', await buildImage({ layers: [{ entries }], ...(config ? { config } : {}) }));
      return `${registry.host}/${repo}:1`;
    };
    full = await push('test/full', {
      Entrypoint: ['/bin/echo', 'from-entrypoint'],
      Cmd: ['from-cmd'],
      Env: ['PATH=/bin', 'P1=img', 'P2=img', 'P3=img', 'P4=img', 'P5=img'],
      ExposedPorts: { '8080/tcp': {} },
      Volumes: { '/data': {} },
      WorkingDir: '/srv',
      User: APP_USER.name,
    });
    plain = await push('test/plain', undefined);
    missingWorkdir = await push('test/missing-workdir', { WorkingDir: '/missing' });
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
  }, scaled(60_000));

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  const run = (image: string, ...args: string[]) => t.aegis(['run', '--image', image, ...args]);

  /**
   * One check per row, with the row's text it was written against (a reworded row fails until its check is
   * reviewed): it asserts what the row says besides its verdict, and returns what Aegis did with the field.
   */
  const checks: Record<string, { says: string; check: () => Promise<Verdict> }> = {
    ENTRYPOINT: {
      says: "Ignored. The command comes from `aegis run -- CMD`, `aegis app create -- CMD` or the kit; Aegis's harness is PID 1, never the command.",
      check: async () => {
        const r = await run(full, '--', 'sh', '-c', 'echo "given, pid $$"');
        expect(r.code).toBe(0);
        expect(Number(/^given, pid (\d+)\n$/.exec(r.stdout)?.[1])).toBeGreaterThan(1);
        return r.stdout.includes('from-entrypoint') ? 'Applied' : 'Ignored';
      },
    },
    CMD: {
      says: 'Ignored. A command is always given (`aegis run` and `aegis app create` without one are refused).',
      check: async () => {
        const runNone = await run(full);
        expect(runNone.code).toBe(1);
        expect(runNone.stdout).toContain('Not enough positional arguments');
        const createNone = await t.aegis(['app', 'create', '--name', 'no-command', '--image', full]);
        expect(createNone.code).toBe(1);
        expect(createNone.stdout).toContain('app create needs the command after --');
        return (await run(full, '--', 'echo', 'given')).stdout.includes('from-cmd') ? 'Applied' : 'Ignored';
      },
    },
    ENV: {
      says: "Applied, then overridden by the workspace's secrets, the app's secrets, the app's `env`, and `--env` (each wins over the ones before it).",
      // The order is checked by the precedence tests below.
      check: async () => ((await run(full, '--', 'sh', '-c', 'echo $P1')).stdout === 'img\n' ? 'Applied' : 'Ignored'),
    },
    EXPOSE: {
      says: 'Ignored. Ports are declared via `--expose` flag or kit manifest; an app with neither cannot be served.',
      check: async () => {
        expect((await t.aegis(['app', 'create', '--name', 'exposed', '--image', full, '--', 'httpd', '-f', '-p', '8080'])).code).toBe(0);
        expect((await t.aegis(['app', 'info', 'exposed'])).stdout).toContain('\nPorts:   none\n');
        const serve = await t.api('POST', '/v1/apps/exposed/serve', {});
        return serve.status === 400 && JSON.stringify(serve.body).includes('exposes no port') ? 'Ignored' : 'Applied';
      },
    },
    VOLUME: {
      says: "Ignored. Nothing is mounted at its paths: they stay ordinary directories of the machine's writable root filesystem.",
      check: async () => {
        const r = await run(full, '--', 'sh', '-c', 'cat /proc/mounts; echo kept > /data/file && cat /data/file');
        expect(r.code).toBe(0);
        expect(r.stdout.endsWith('kept\n')).toBe(true);
        return r.stdout.split('\n').some((l) => l.split(' ')[1] === '/data') ? 'Applied' : 'Ignored';
      },
    },
    WORKDIR: {
      says: 'Applied: the command starts there (without one, in `/`). It must exist in the image: a missing one fails with exit 126.',
      check: async () => {
        expect(await run(plain, '--', 'pwd')).toMatchObject({ code: 0, stdout: '/\n' });
        expect(await run(missingWorkdir, '--', 'pwd')).toMatchObject({ code: 126, stdout: '', stderr: 'aegis: /missing: no such directory\n' });
        return (await run(full, '--', 'pwd')).stdout === '/srv\n' ? 'Applied' : 'Ignored';
      },
    },
    USER: {
      says: "Applied: the command runs as the image's user (a name is looked up in the image's `/etc/passwd` and `/etc/group`, `HOME` from there); `--user` (or `user` in the spec) overrides it, `0` being root.",
      // `user` in a spec is checked by test/security/image-user.test.ts.
      check: async () => {
        const who = 'echo $(id -u):$(id -g):$HOME';
        expect(await run(full, '--user', '0', '--', 'sh', '-c', who)).toMatchObject({ code: 0, stdout: '0:0:/root\n' });
        return (await run(full, '--', 'sh', '-c', who)).stdout === `${APP_USER.uid}:${APP_USER.uid}:${APP_USER.home}\n` ? 'Applied' : 'Ignored';
      },
    },
  };

  it('the table has a row for each field checked here, and no other, worded as the check expects', () => {
    expect(Object.fromEntries(dockerTable())).toEqual(Object.fromEntries(Object.entries(checks).map(([field, c]) => [field, c.says])));
  });

  it.each(dockerTable())('%s: "%s"', async (field, says) => {
    const verdict = /^(Applied|Ignored)\b/.exec(says)?.[1];
    expect(verdict, `the ${field} row must start with Applied or Ignored`).toBeDefined();
    expect(await checks[field]!.check()).toBe(verdict);
  });

  it('sets PATH, HOME and HOSTNAME where nothing else does', async () => {
    const r = await run(plain, '--', 'sh', '-c', 'echo "$PATH|$HOME|$HOSTNAME"');
    expect(r.stdout).toMatch(/^\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin\|\/root\|\S+\n$/);
    expect(REFERENCE).toContain('Where nothing above sets them, `PATH` (a standard one), `HOME` (`/root` for root) and `HOSTNAME`');
  });

  describe('ENV precedence: image < workspace secrets < app secrets < app env < --env', () => {
    // Three-byte values: secret values of 4 bytes or more would show as *** in the output.
    const expected = 'img wsp app env cli\n';
    const show = ['sh', '-c', 'echo $P1 $P2 $P3 $P4 $P5'];

    beforeAll(async () => {
      for (const k of ['P2', 'P3', 'P4', 'P5']) expect((await t.aegis(['secret', 'set-workspace', k, 'wsp'])).code).toBe(0);
      // The server runs as the image's user, who may not bind ports under 1024.
      const created = await t.aegis(['app', 'create', '--name', 'envs', '--image', full, '--secret', '*', '--env', 'P4=env', '--env', 'P5=env', '--expose', '8080', '--', 'httpd', '-f', '-p', '8080']);
      expect(created.code, created.stderr).toBe(0);
      for (const k of ['P3', 'P4', 'P5']) expect((await t.aegis(['secret', 'set', 'envs', k, 'app'])).code).toBe(0);
    }, scaled(30_000));

    it('in a task (aegis run --app)', async () => {
      expect(await run(full, '--app', 'envs', '--env', 'P5=cli', '--', ...show)).toMatchObject({ code: 0, stdout: expected });
    });

    it("in a served app's instance (its execs start from the server's environment)", async () => {
      expect((await t.aegis(['app', 'publish', 'envs'])).code).toBe(0);
      expect((await t.api('POST', '/v1/apps/envs/serve', {})).status).toBe(201);
      const r = await waitFor(async () => {
        const e = await t.aegis(['exec', 'envs', '--env', 'P5=cli', '--', ...show]);
        return e.code === 0 && e;
      }, { what: 'an exec in the served app', timeoutMs: 20_000 });
      expect(r.stdout).toBe(expected);
    });
  });
});
