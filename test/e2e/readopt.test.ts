// Instances across a daemon restart: `aegis down` leaves their machines running (paused ones paused), and
// the next daemon re-adopts them: same machine, the server's output in the log again, router and ports
// serving, exec working. A machine that died meanwhile is replaced by a fresh boot.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAN_PAUSE, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { httpGet } from '../support/http-get.js';

interface InstanceView {
  metadata: { uid: string };
  status: { state?: string; machineId?: string; endpoints?: { port: number; hostPort?: number }[]; conditions?: { type: string; reason?: string }[] };
}

// A server that also writes a counter line every 200 ms, so new output after the restart is easy to see.
const COMMAND = ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done & exec httpd -f -p 8080 -h /etc'];

describe('instances across a daemon restart', () => {
  let t: TempHome;

  const instance = async (id: string) => (await t.api('GET', `/v1/instances/${id}`)).body as InstanceView;
  const create = async (pauseAfter: string, command = COMMAND) => {
    const r = await t.api('POST', '/v1/instances', { command, expose: [8080], idle: { pauseAfter, stopAfter: '1h' } });
    expect(r.status).toBe(201);
    return (r.body as InstanceView).metadata.uid;
  };
  const stateIs = (id: string, state: string) => waitFor(async () => (await instance(id)).status.state === state, { what: `${id} ${state}`, timeoutMs: 15_000 });
  // Right after `aegis up` the status is still the old daemon's: wait for the new one to have adopted the machine.
  const adopted = (id: string, state: string) =>
    waitFor(
      async () => {
        const { status } = await instance(id);
        return status.state === state && status.conditions?.find((c) => c.type === 'Ready')?.reason === 'Adopted';
      },
      { what: `${id} adopted ${state}`, timeoutMs: 15_000 },
    );
  const get = (url: string, headers: Record<string, string> = {}) => httpGet(url, { headers });
  const machinePid = (machineId: string) => (JSON.parse(fs.readFileSync(path.join(t.home, 'data', 'machines', machineId, 'state.json'), 'utf8')) as { pid: number }).pid;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // The host pids of a machine's processes: its unshare process (or libkrun worker) and everything below it,
  // the children of any of its threads included.
  const processesOf = (pid: number): number[] => {
    let children: number[] = [];
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        children.push(...fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number));
      }
    } catch {
      /* gone */
    }
    return [pid, ...children.flatMap(processesOf)];
  };
  // A backend that cannot pause (libkrun) keeps the short-pauseAfter instance running.
  const IDLE = CAN_PAUSE ? 'paused' : 'running';
  const cmdline = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  const logsAfter = async (id: string, marker: string) => {
    const out = (await t.aegis(['logs', id])).stdout;
    const at = out.lastIndexOf(marker);
    return at < 0 ? undefined : out.slice(at);
  };

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 30_000);

  afterAll(async () => {
    await t?.dispose(); // deletes the instances: `aegis down` alone leaves their machines running
  }, 30_000);

  it('keeps running and paused machines across down and up, and boots fresh when the machine or its server died', async () => {
    const running = await create('1h');
    const paused = await create('300ms');
    const dies = await create('1h');
    const exits = await create('1h', ['httpd', '-f', '-p', '8080', '-h', '/etc']);
    for (const id of [running, dies, exits]) await stateIs(id, 'running');
    await stateIs(paused, IDLE);
    const before = Object.fromEntries(await Promise.all([running, paused, dies, exits].map(async (id) => [id, (await instance(id)).status.machineId!] as const)));
    const hostPort = (await waitFor(async () => (await instance(running)).status.endpoints?.[0]?.hostPort, { what: 'endpoint' }))!;

    expect((await t.aegis(['down'])).code).toBe(0);
    for (const id of [running, paused, dies, exits]) expect(alive(machinePid(before[id]!))).toBe(true);
    // While no daemon runs, one machine dies, and in another the server dies but the machine runs on.
    const deadPid = machinePid(before[dies]!);
    process.kill(deadPid, 'SIGKILL');
    await waitFor(() => !alive(deadPid), { what: 'machine gone' });
    const server = processesOf(machinePid(before[exits]!)).find((pid) => cmdline(pid).startsWith('httpd\0'));
    expect(server).toBeDefined();
    process.kill(server!, 'SIGKILL');
    await waitFor(() => !alive(server!), { what: 'server gone' });

    expect((await t.aegis(['up'])).code).toBe(0);
    const router = (await t.api('GET', '/v1/status')).body.router as string;
    // Asked at once, before any adoption is seen: the router waits for the instance rather than a 404.
    expect(await get(`${router}/os-release`, { 'x-aegis-app': running })).toMatchObject({ status: 200 });

    // The running one: same machine, serving through the router and its port, new output, exec.
    await adopted(running, 'running');
    expect((await instance(running)).status.machineId).toBe(before[running]);
    expect(await get(`${router}/os-release`, { 'x-aegis-app': running })).toMatchObject({ status: 200 });
    expect(await get(`http://127.0.0.1:${hostPort}/os-release`)).toMatchObject({ status: 200 });
    await waitFor(async () => (await logsAfter(running, 're-adopted machine'))?.match(/tick \d+/), { what: 'output after the restart' });
    expect(await t.aegis(['exec', running, '--', 'echo', 'still here'])).toMatchObject({ code: 0, stdout: 'still here\n' });

    // The paused one stays paused on the same machine and wakes on a request.
    await adopted(paused, IDLE);
    expect((await instance(paused)).status.machineId).toBe(before[paused]);
    expect(await get(`${router}/os-release`, { 'x-aegis-app': paused })).toMatchObject({ status: 200 });
    await waitFor(async () => (await logsAfter(paused, CAN_PAUSE ? 're-adopted paused machine' : 're-adopted machine'))?.match(/tick \d+/), { what: 'output after the wake' });

    // The dead ones boot fresh on a new machine.
    for (const id of [dies, exits]) {
      await waitFor(async () => (await instance(id)).status.machineId !== before[id], { what: `${id} on a new machine`, timeoutMs: 15_000 });
      await stateIs(id, 'running');
      expect(await get(`${router}/os-release`, { 'x-aegis-app': id })).toMatchObject({ status: 200 });
    }
    expect((await t.aegis(['logs', exits])).stdout).toContain(`cannot re-adopt machine ${before[exits]} (its server has exited): stopping it and booting fresh`);
    // What the old machines left on disk is gone.
    for (const id of [dies, exits]) expect(fs.existsSync(path.join(t.home, 'data', 'machines', before[id]!))).toBe(false);
  }, 90_000);
});
