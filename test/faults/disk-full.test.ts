// $AEGIS_HOME on a small loop-mounted ext4 that fills up: every write fails with one line that says the disk
// is full and names what it tried to write, the store stays valid, the daemon keeps serving reads, and once
// space is freed the same writes succeed on the same daemon (no restart).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { daemonPid, integrityCheck } from './support/crash.js';

const FS_MIB = 256;

/** Writes zeros into `file` until the filesystem refuses (ENOSPC); returns the bytes written. */
function fillUp(file: string): number {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024);
  let written = 0;
  try {
    for (;;) written += fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    // The last partial megabyte: fill to the last block.
    const small = Buffer.alloc(4096);
    try {
      for (;;) written += fs.writeSync(fd, small);
    } catch {
      /* full */
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

// Root and loop devices: a container without them cannot mount the small filesystem.
const CAN_LOOP_MOUNT = process.getuid?.() === 0 && fs.existsSync('/dev/loop-control');

describe.skipIf(!CAN_LOOP_MOUNT)('AEGIS_HOME on a full disk (needs root and loop devices)', () => {
  let t: TempHome;
  let image: string;
  let dir: string;
  let ticker: string;
  let registry: TestRegistry;
  let imageRef: string;

  beforeAll(async () => {
    // An image with a 4 MiB incompressible layer, pulled while the disk is full.
    registry = await startRegistry();
    const payload = crypto.randomBytes(4 * 1024 * 1024);
    await pushImage(registry.url, 'test/big', '1', await buildImage({ layers: [{ entries: busyboxEntries() }, { entries: [{ name: 'payload.bin', content: payload }] }], config: { Env: ['PATH=/bin'] } }));
    imageRef = `${registry.host}/test/big:1`;
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    image = path.join(os.tmpdir(), `aegis-fs-${process.pid}-${Date.now()}.img`);
    execFileSync('truncate', ['-s', `${FS_MIB}M`, image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    execFileSync('mount', ['-o', 'loop', image, t.home]);
    // Small machine disks: a machine's sparse disk image still costs its metadata on this small filesystem.
    fs.writeFileSync(path.join(t.home, 'config.yaml'), 'router:\n  port: 0\nlimits:\n  machineDisk: 64MiB\n');
    dir = path.join(t.home, 'deploy');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'app.yaml'), 'apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: applied}\nspec:\n  image: 127.0.0.1:9/none:1\n  command: [echo, hi]\n');
    expect((await t.aegis(['up'])).code).toBe(0);
    // A server that writes a line every 100 ms: its output keeps coming while the disk is full.
    const created = await t.api('POST', '/v1/instances', { command: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done & exec httpd -f -p 8080 -h /etc'], expose: [8080], idle: { pauseAfter: '1h', stopAfter: '1h' } });
    expect(created.status).toBe(201);
    ticker = created.body.metadata.uid;
    await waitFor(async () => (await t.api('GET', `/v1/instances/${ticker}`)).body.status.state === 'running', { what: 'ticker running', timeoutMs: 30_000 });
    expect((await t.aegis(['app', 'create', '--name', 'before', '--image', '127.0.0.1:9/none:1', '--', 'echo', 'x'])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await t?.aegis(['down']).catch(() => undefined);
    try {
      execFileSync('umount', [t.home]);
    } catch {
      execFileSync('umount', ['-l', t.home]);
    }
    fs.rmSync(image, { force: true });
    await t?.dispose();
    await registry?.stop();
  }, 60_000);

  // Each write, and the words its one-line error must contain to name what it tried to write.
  const writes: { args: string[]; names: RegExp }[] = [
    { args: ['app', 'create', '--name', 'during', '--image', '127.0.0.1:9/none:1', '--', 'echo', 'x'], names: /app "?during"?/ },
    { args: ['secret', 'set', 'before', 'TOKEN', 'v1'], names: /secret|TOKEN/ },
    { args: ['apply', '-f', 'DIR'], names: /apply|app "?applied"?/ },
    { args: ['image', 'pull', 'IMAGE'], names: /test\/big:1|layer|blob/ },
  ];
  const run = (args: string[]) => t.aegis(args.map((a) => (a === 'DIR' ? dir : a === 'IMAGE' ? imageRef : a)), { timeoutMs: 60_000 });

  it('refuses writes with one line naming them, serves reads, keeps the store valid, and resumes once space is freed', async () => {
    const pid = daemonPid(t.home)!;
    const filler = path.join(t.home, 'filler');
    const filled = fillUp(filler);
    console.log(`[faults] disk-full: ${FS_MIB} MiB filesystem filled with ${(filled / 2 ** 20).toFixed(1)} MiB`);

    for (const w of writes) {
      const r = await run(w.args);
      expect(r.code, `${w.args.join(' ')}: ${r.stdout}${r.stderr}`).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(r.stderr, w.args.join(' ')).toMatch(/no space left|disk is full/i);
      expect(r.stderr, w.args.join(' ')).toMatch(w.names);
      console.log(`[faults] disk-full: aegis ${w.args.join(' ')} -> ${r.stderr.trim()}`);
    }
    // The ticker's output meets the full disk too (a second of it), and the daemon goes on.
    await new Promise((r) => setTimeout(r, 1000));
    // Reads go on, from the same daemon.
    expect((await t.aegis(['app', 'list'])).stdout).toContain('before');
    expect((await t.aegis(['status'])).code).toBe(0);
    expect(daemonPid(t.home)).toBe(pid);
    expect(integrityCheck(t.home)).toBe('ok');
    // Nothing half-written: the refused app does not exist.
    expect((await t.api('GET', '/v1/apps/during')).status).toBe(404);

    fs.rmSync(filler);
    for (const w of writes) {
      const r = await run(w.args);
      expect(r, w.args.join(' ')).toMatchObject({ code: 0 });
    }
    expect(daemonPid(t.home)).toBe(pid);
    expect((await t.api('GET', '/v1/apps/during')).status).toBe(200);
    expect((await t.api('GET', '/v1/apps/before/secrets')).body.keys).toContain('TOKEN');
    expect(integrityCheck(t.home)).toBe('ok');
    // The ticker's lines lost while the disk was full are counted in its log, not dropped silently.
    const logs = await waitFor(async () => {
      const out = (await t.aegis(['logs', ticker])).stdout;
      return /line\(s\) of output could not be written to this log \(.*no space left/i.test(out) && /tick \d+\s*$/.test(out) ? out : undefined;
    }, { what: 'the ticker counting its lost lines', timeoutMs: 15_000 });
    console.log(`[faults] disk-full: ${logs.split('\n').find((l) => l.includes('could not be written'))}`);
    await t.api('DELETE', `/v1/instances/${ticker}`);
    await waitFor(async () => (await t.api('GET', `/v1/instances/${ticker}`)).status === 404, { what: 'ticker gone', timeoutMs: 30_000 });
  }, 120_000);
});
