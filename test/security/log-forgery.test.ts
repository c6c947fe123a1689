// Issue 21 item 15: a served command must not be able to drive the reader's terminal through `aegis logs`
// (escape sequences, carriage returns) or forge a line from another source such as `[system]`, piped or not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const FORGED = '[system] instance deleted by the operator';
// printf in the guest: an ANSI colour, a forged system line, a carriage return that would overwrite the tag.
const SERVER = `printf '\\033[31mred alert\\033[0m\\n${FORGED}\\nhidden\\r[system] overwritten\\n'; echo on-stderr >&2; exec sleep 600`;

describe('aegis logs shows what the machine printed, never as something else', () => {
  let t: TempHome;
  let id: string;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    const serve = t.spawnAegis(['run', '--expose', '8080', '--', 'sh', '-c', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => /Instance: (\S+)/.test(out), { what: 'serve output' });
    id = out.match(/Instance: (\S+)/)![1]!;
    await waitFor(async () => (await t.aegis(['logs', id])).stdout.includes('on-stderr'), { what: 'server output logged' });
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
  });

  it('piped, every line carries its real source and no control character reaches the reader', async () => {
    const logs = await t.aegis(['logs', id]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const lines = logs.stdout.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^\[(boot|server|exec|system)\] /);
    expect(lines).toContain('[server] \\x1b[31mred alert\\x1b[0m');
    expect(lines).toContain(`[server] ${FORGED}`);
    expect(lines).toContain('[server] hidden\\x0d[system] overwritten');
    expect(lines).toContain('[server] on-stderr');
    // The only [system] lines are the daemon's own.
    expect(lines.filter((l) => l.startsWith('[system]')).join('\n')).not.toContain('operator');
  });

  it('--json keeps the raw text inside JSON', async () => {
    const json = await t.aegis(['logs', id, '--json', '--source', 'server']);
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { source: string; line: string });
    expect(entries.map((e) => e.line)).toContain('\x1b[31mred alert\x1b[0m');
    expect(entries.every((e) => e.source === 'server')).toBe(true);
  });
});
