// Issue 21, item 10 (memory and CPUs): a machine larger than the host is refused before anything is created, and a
// new machine is refused while running machines hold the host's memory × limits.memoryOvercommit. The attack run
// started a 64 GiB, 64-vCPU machine on a 24 GiB, 2-CPU host; here against a real daemon (sandbox backend).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const HOST_MIB = Math.floor(os.totalmem() / 1024 ** 2);
const HOST_CPUS = os.availableParallelism();
const HOST = `${HOST_MIB} MiB of memory, ${HOST_CPUS} CPU${HOST_CPUS === 1 ? '' : 's'}`;
/** Running machines may hold ~1 GiB in all: one 600 MiB machine leaves no room for a second. */
const OVERCOMMIT = 1024 / HOST_MIB;

describe('admission', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  const count = async (what: 'tasks' | 'instances') => (await t.api('GET', `/v1/${what}`)).body.items.length as number;

  beforeAll(async () => {
    t = withTempHome();
    fs.appendFileSync(path.join(t.home, 'config.yaml'), `limits:\n  memoryOvercommit: ${OVERCOMMIT}\n`);
    // No warm machine: the machines counted are exactly the ones each test starts.
    t.env.AEGIS_WARM_MACHINES = '0';
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
    const warm = await t.aegis(['run', '--', 'true'], { timeoutMs: 120_000 });
    expect(warm.code, warm.stderr).toBe(0);
  }, scaled(150_000));
  afterAll(() => t.dispose(), scaled(60_000));

  it.skipIf(HOST_MIB >= 65536)('refuses more memory than the host has: exit 125, one line, nothing created', async () => {
    const [tasks, instances] = [await count('tasks'), await count('instances')];
    const line = `error: a machine with 65536 MiB of memory cannot run on this host (${HOST})\n`;
    expect(await t.aegis(['run', '--memory', '65536', '--', 'true'])).toEqual({ code: 125, stdout: '', stderr: line });
    expect(await t.aegis(['run', '--memory', '65536', '--expose', '80', '--', 'httpd', '-f', '-p', '80'])).toEqual({ code: 125, stdout: '', stderr: line });
    expect([await count('tasks'), await count('instances')]).toEqual([tasks, instances]);
  });

  it.skipIf(HOST_CPUS >= 64)('refuses more vCPUs than the host has CPUs: exit 125, one line, nothing created', async () => {
    const tasks = await count('tasks');
    expect(await t.aegis(['run', '--vcpus', '64', '--', 'true'])).toEqual({ code: 125, stdout: '', stderr: `error: a machine with 64 vCPUs cannot run on this host (${HOST})\n` });
    expect(await count('tasks')).toBe(tasks);
  });

  it.skipIf(HOST_MIB >= 65536)('an app of that size is not Ready, and says why', async () => {
    const created = await t.aegis(['app', 'create', '--name', 'huge', '--image', 'alpine:3.21', '--memory', '65536', '--expose', '80', '--', 'true']);
    expect(created.code, created.stderr).toBe(0);
    const info = await waitFor(async () => {
      const r = await t.aegis(['app', 'info', 'huge']);
      return r.stdout.includes('ExceedsHost') && r.stdout;
    }, { what: 'app huge not Ready' });
    expect(info).toContain(`Status:  ExceedsHost: a machine with 65536 MiB of memory cannot run on this host (${HOST})`);
    const app = (await t.api('GET', '/v1/apps/huge')).body;
    expect(app.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ExceedsHost' });
  });

  it.skipIf(HOST_MIB >= 65536)('an instance of that size written through the generic API fails before a machine starts, and says why', async () => {
    const created = await t.api('POST', '/v1/resources/Instance', { metadata: { name: 'huge-server' }, spec: { command: ['httpd', '-f', '-p', '80'], expose: [80], resources: { memoryMiB: 65536 } } });
    expect(created.status).toBe(201);
    const failed = await waitFor(async () => {
      const inst = (await t.api('GET', '/v1/instances/huge-server')).body;
      return inst.status.state === 'failed' && inst;
    }, { what: 'instance huge-server failed' });
    expect(failed.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'False', message: `a machine with 65536 MiB of memory cannot run on this host (${HOST})` });
    expect(failed.status.machineId).toBeUndefined();
    expect((await t.api('DELETE', '/v1/instances/huge-server')).status).toBe(200);
  });

  it('refuses a machine that would take running machines past host memory × limits.memoryOvercommit, and runs it once room is back', async () => {
    // An earlier run's machine may still be stopping: start from none.
    const machines = path.join(t.home, 'data', 'machines');
    await waitFor(() => fs.readdirSync(machines).length === 0, { what: 'no machine left' });
    const first = t.spawnAegis(['run', '--memory', '600', '--', 'sleep', '60']);
    const running = await waitFor(async () => {
      const items = (await t.api('GET', '/v1/tasks')).body.items as any[];
      return items.find((i) => i.spec.command.join(' ') === 'sleep 60' && i.status.phase === 'Running');
    }, { what: 'the first task running', timeoutMs: 20_000 });

    const second = await t.aegis(['run', '--memory', '600', '--', 'true']);
    expect(second.code).toBe(125);
    expect(second.stderr).toMatch(
      new RegExp(`^error: a machine with 600 MiB of memory cannot start now: 1 running machine\\(s\\) hold 600 MiB of the 10\\d\\d MiB this host allows \\(${HOST}, limits\\.memoryOvercommit [\\d.]+\\)\\n$`),
    );

    // Ctrl+C stops the first task's machine: its memory is free again.
    first.kill('SIGINT');
    await waitFor(async () => !(await t.api('GET', `/v1/tasks/${running.metadata.uid}`)).body?.metadata, { what: 'the first task gone' });
    expect(await t.aegis(['run', '--memory', '600', '--', 'echo', 'room again'])).toEqual({ code: 0, stdout: 'room again\n', stderr: '' });
  });

  it('a normal run still works', async () => {
    // The last run's 600 MiB machine holds its memory until it has stopped, a moment after its command exits.
    await waitFor(() => fs.readdirSync(path.join(t.home, 'data', 'machines')).length === 0, { what: 'no machine left' });
    expect(await t.aegis(['run', '--', 'echo', 'hello'])).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
  });
});
