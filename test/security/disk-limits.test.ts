// Issue 21, item 9 (the parts outside machines): task logs, aegisd.log and unpacked image layers each stay within
// a configured limit, and hitting one says so. Each test performs the attack against a real daemon (sandbox backend).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, writeOciLayout } from '../support/oci-builder.js';
import { scaled, withTempHome, type TempHome } from '../support/temp-home.js';

const MiB = 1024 ** 2;
const TASK_LOG_CAP = 4 * MiB;
const DAEMON_LOG_CAP = 64 * 1024;

describe('disk limits', { timeout: scaled(60_000) }, () => {
  let t: TempHome;
  beforeAll(async () => {
    t = withTempHome();
    // Small limits, so each attack passes its limit in seconds; the defaults are the same code with bigger numbers.
    fs.appendFileSync(
      path.join(t.home, 'config.yaml'),
      `limits:\n  taskLog: 4MiB\n  daemonLog: ${DAEMON_LOG_CAP}\n  layer: 16MiB\n  layerEntries: 1000\n`,
    );
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
  }, scaled(60_000));
  afterAll(() => t.dispose(), scaled(60_000));

  it('a task printing 60 MB keeps at most limits.taskLog on disk, and a reader is told what was dropped', async () => {
    const total = 60_000_000;
    const r = await t.aegis(['run', '--', 'sh', '-c', `head -c ${total} /dev/zero | tr '\\000' a`], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    // The live follower reads as the output is written: it gets everything, or a line on stderr says what it missed.
    if (r.stdout.length === total) expect(r.stderr).toBe('');
    else expect(r.stderr).toMatch(/^aegis: this reader fell behind the task's output; \d+ log file\(s\) of it were dropped/m);

    const task = (await t.api('GET', '/v1/tasks')).body.items.find((i: any) => i.spec.command.join(' ').includes(`head -c ${total}`));
    const uid: string = task.metadata.uid;
    const logsDir = path.join(t.home, 'data', 'logs');
    const files = fs.readdirSync(logsDir).filter((f) => f.startsWith(uid));
    const stored = files.reduce((n, f) => n + fs.statSync(path.join(logsDir, f)).size, 0);
    expect(stored).toBeGreaterThan(TASK_LOG_CAP / 2);
    expect(stored).toBeLessThanOrEqual(TASK_LOG_CAP);

    // A reader after the fact gets the newest output and the exit, after one system line saying what was dropped.
    const res = await fetchLines(t, `/v1/tasks/${uid}/logs`);
    expect(res[0]).toMatchObject({
      stream: 'system',
      text: expect.stringMatching(/^aegis: the first 5\d(\.\d)?MiB of this task's output were dropped \(task logs keep the newest 4MiB: limits\.taskLog\)$/),
    });
    expect(res.at(-1)).toMatchObject({ stream: 'system', exit: { code: 0 } });
    const kept = res.slice(1, -1).reduce((n, e) => n + (e.text?.length ?? 0), 0);
    expect(kept).toBeGreaterThan(TASK_LOG_CAP / 2);
    expect(res.slice(1, -1).every((e) => e.stream === 'stdout' && /^a+$/.test(e.text))).toBe(true);
  });

  it('refuses a gzip bomb layer with one line naming the layer and the limit, leaving nothing in the cache', async () => {
    // 64 MiB of zeros gzip to ~64 KiB: the attack's 522 KB → 513 MiB, scaled to the configured 16 MiB limit.
    const bomb = await buildImage({ layers: [{ entries: busyboxEntries() }, { entries: [{ name: 'bomb', content: Buffer.alloc(64 * MiB) }] }] });
    const layer = bomb.layers[1]!;
    expect(layer.size).toBeLessThan(MiB / 4);
    const dir = fs.mkdtempSync(path.join(t.home, 'src-'));
    writeOciLayout(path.join(dir, 'layout'), [{ image: bomb, tag: 'bomb' }]);

    const r = await t.aegis(['run', '--image', 'oci:layout:bomb', '--', 'true'], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`error: image oci:${dir}/layout:bomb refused: layer ${layer.digest.slice(0, 19)}: unpacks to more than 16MiB (limits.layer)\n`);
    expectNotCached(t, layer.digest);
  });

  it('refuses a layer with more entries than limits.layerEntries the same way', async () => {
    const many = await buildImage({ layers: [{ entries: Array.from({ length: 1500 }, (_, i) => ({ name: `f${i}`, content: '' })) }] });
    const layer = many.layers[0]!;
    const dir = fs.mkdtempSync(path.join(t.home, 'src-'));
    writeOciLayout(path.join(dir, 'layout'), [{ image: many, tag: 'many' }]);

    const r = await t.aegis(['image', 'pull', 'oci:layout:many'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: image oci:${dir}/layout:many refused: layer ${layer.digest.slice(0, 19)}: has more than 1000 entries (limits.layerEntries)\n`);
    expectNotCached(t, layer.digest);
  });

  it('rotates aegisd.log at limits.daemonLog, keeping three old files', async () => {
    // Every API request writes two log lines: 1000 requests write several times the limit.
    for (let i = 0; i < 1000; i++) await t.api('GET', '/v1/tasks');
    const data = path.join(t.home, 'data');
    const logs = fs.readdirSync(data).filter((f) => f.startsWith('aegisd.log')).sort();
    expect(logs).toEqual(['aegisd.log', 'aegisd.log.1', 'aegisd.log.2', 'aegisd.log.3']);
    for (const f of logs) expect(fs.statSync(path.join(data, f)).size).toBeLessThanOrEqual(DAEMON_LOG_CAP);
    // Still whole JSON lines, and still written to.
    const lines = fs.readFileSync(path.join(data, 'aegisd.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === 'request completed')).toBe(true);
  });
});

/** An NDJSON endpoint's entries (t.api reads one JSON document). */
async function fetchLines(t: TempHome, urlPath: string): Promise<any[]> {
  const text = await new Promise<string>((resolve, reject) => {
    http.get({ socketPath: path.join(t.home, 'aegisd.sock'), path: urlPath }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(Buffer.concat(parts).toString()));
    }).on('error', reject);
  });
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Neither the unpacked layer (nor a temp dir of it) nor its blob stays in the image cache. */
function expectNotCached(t: TempHome, digest: string): void {
  const hex = digest.slice('sha256:'.length);
  const images = path.join(t.home, 'data', 'images');
  expect(fs.readdirSync(path.join(images, 'layers', 'sha256')).filter((f) => f.startsWith(hex))).toEqual([]);
  expect(fs.existsSync(path.join(images, 'blobs', 'sha256', hex))).toBe(false);
}
