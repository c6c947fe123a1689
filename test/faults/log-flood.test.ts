// A guest that floods stdout at full speed (~10 s; a minute with --long): the daemon's memory stays bounded,
// the instance's log on disk stays within limits.instanceLog, and the lines rotated away are counted in a
// system line that a reader sees first, never dropped silently. The daemon answers the API throughout.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { daemonPid, rssBytes, sleep } from './support/crash.js';
import { LONG } from './support/seeded.js';

const FLOOD_MS = LONG ? 60_000 : 10_000;
const LOG_CAP = 4 * 1024 * 1024;
/** The daemon's resident set may grow this much over its idle size while the guest floods. */
const RSS_GROWTH_LIMIT = 150 * 1024 * 1024;
// Numbered lines at full shell speed, so the test can tell which ones the log kept, beside `yes` at full speed
// (far faster than the daemon can store lines: only flow control keeps its memory bounded).
const FLOOD = 'yes yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy & i=0; while :; do i=$((i+1)); echo "flood $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; done';

describe('a guest flooding stdout', () => {
  let t: TempHome;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    fs.writeFileSync(path.join(t.home, 'config.yaml'), `router:\n  port: 0\nlimits:\n  instanceLog: ${LOG_CAP}\n`);
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 30_000);

  afterAll(async () => {
    await t?.dispose();
  }, 60_000);

  it('keeps the daemon bounded and responsive, the log within its cap, and counts what rotation dropped', async () => {
    const pid = daemonPid(t.home)!;
    const idleRss = rssBytes(pid)!;
    const created = await t.api('POST', '/v1/instances', { command: ['sh', '-c', `${FLOOD} & exec httpd -f -p 8080 -h /etc`], expose: [8080], idle: { pauseAfter: '1h', stopAfter: '1h' } });
    expect(created.status).toBe(201);
    const id = created.body.metadata.uid as string;
    await waitFor(async () => (await t.api('GET', `/v1/instances/${id}`)).body.status.state === 'running', { what: 'flooding instance running', timeoutMs: 20_000 });

    let maxRss = 0;
    let slowest = 0;
    const samples: number[] = [];
    const until = Date.now() + FLOOD_MS;
    while (Date.now() < until) {
      const rss = rssBytes(pid) ?? 0;
      samples.push(rss);
      maxRss = Math.max(maxRss, rss);
      const asked = Date.now();
      expect((await t.api('GET', '/v1/status')).status).toBe(200);
      slowest = Math.max(slowest, Date.now() - asked);
      await sleep(200);
    }
    const logs = path.join(t.home, 'data', 'logs');
    const files = fs.readdirSync(logs).filter((f) => f.startsWith(`${id}.ndjson`));
    const onDisk = files.reduce((n, f) => n + fs.statSync(path.join(logs, f)).size, 0);
    console.log(`[faults] log-flood: RSS MiB every 200 ms: ${samples.map((b) => Math.round(b / 2 ** 20)).join(' ')}`);
    console.log(`[faults] log-flood: ${FLOOD_MS / 1000} s flood, daemon RSS ${(idleRss / 2 ** 20).toFixed(0)} MiB idle, max ${(maxRss / 2 ** 20).toFixed(0)} MiB; log ${(onDisk / 2 ** 20).toFixed(1)} MiB in ${files.length} files (cap ${LOG_CAP / 2 ** 20} MiB); slowest status ${slowest} ms`);
    expect(maxRss - idleRss).toBeLessThan(RSS_GROWTH_LIMIT);
    // One line of slack per file: a rotation happens before the line that would pass the cap.
    expect(onDisk).toBeLessThanOrEqual(LOG_CAP + files.length * 200);

    // A reader is told first how many lines went, and the count covers every flood line it does not see.
    const read = await t.aegis(['logs', id], { timeoutMs: 60_000 });
    expect(read.code).toBe(0);
    const lines = read.stdout.split("\n");
    const dropped = /the first (\d+) lines? of this instance's log (were|was) dropped/.exec(read.stdout);
    const firstFlood = lines.map((l) => /^(?:\[\w+\] )?flood (\d+) /.exec(l)).find(Boolean);
    expect(firstFlood).toBeTruthy();
    expect(Number(firstFlood![1])).toBeGreaterThan(1); // the flood did outrun the cap
    expect(dropped, `no line counts the ${Number(firstFlood![1]) - 1} flood lines that are gone; the log starts: ${lines.slice(0, 3).join(' | ')}`).toBeTruthy();
    expect(Number(dropped![1])).toBeGreaterThanOrEqual(Number(firstFlood![1]) - 1);
  }, FLOOD_MS + 120_000);
});
