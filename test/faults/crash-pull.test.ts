// kill -9 of aegisd at seeded random points of an image pull from a real registry (docker-registry): the
// kill lands when a seeded share of the image's bytes has arrived in incoming/. Afterwards no blob in the
// cache is anything but complete (each hashes to its name), no image record names a missing blob or layer,
// and the next daemon pulls the image again and runs it with its content intact.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { withTempHome, type TempHome } from '../support/temp-home.js';
import { integrityCheck, killDaemon, sleep } from './support/crash.js';
import { LONG, seeded } from './support/seeded.js';

const ROUNDS = LONG ? 10 : 3;
const PAYLOAD_BYTES = 12 * 1024 * 1024;

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const dirBytes = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).reduce((n, f) => n + (fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.size ?? 0), 0) : 0);

describe('crash during an image pull', () => {
  let t: TempHome;
  let registry: TestRegistry;
  const images: { ref: string; payloadSha: string; bytes: number }[] = [];

  beforeAll(async () => {
    const rng = seeded('crash-pull images');
    registry = await startRegistry();
    for (let i = 0; i < ROUNDS; i++) {
      // Incompressible: the layer blob is as big as the payload, so the pull takes a while.
      const payload = crypto.randomBytes(PAYLOAD_BYTES);
      payload.writeUInt32LE(rng.int(0, 2 ** 31), 0);
      const entries = [...busyboxEntries(), { name: 'bin/sha256sum', type: 'symlink' as const, linkname: 'busybox' }];
      const image = await buildImage({ layers: [{ entries }, { entries: [{ name: 'payload.bin', content: payload }] }], config: { Env: ['PATH=/bin'] } });
      await pushImage(registry.url, 'test/big', `r${i}`, image);
      images.push({ ref: `${registry.host}/test/big:r${i}`, payloadSha: crypto.createHash('sha256').update(payload).digest('hex'), bytes: image.layers.reduce((n, l) => n + l.size, 0) });
    }
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  }, 30_000);

  const cache = () => path.join(t.home, 'data', 'images');

  /** Every stored blob hashes to its name, every unpacked layer has its blob, every record names what exists. */
  const cacheProblems = (): string[] => {
    const problems: string[] = [];
    const blobs = path.join(cache(), 'blobs', 'sha256');
    for (const hex of fs.existsSync(blobs) ? fs.readdirSync(blobs) : []) if (sha256(path.join(blobs, hex)) !== hex) problems.push(`blob ${hex} does not hash to its name`);
    const layers = path.join(cache(), 'layers', 'sha256');
    for (const hex of fs.existsSync(layers) ? fs.readdirSync(layers) : []) {
      if (!/^[a-f0-9]{64}$/.test(hex)) continue; // a dead daemon's temp dir: cleared at the next start
      if (!fs.existsSync(path.join(blobs, hex))) problems.push(`layer ${hex} unpacked without its complete blob`);
    }
    const refsFile = path.join(cache(), 'refs.json');
    const refs = fs.existsSync(refsFile) ? (JSON.parse(fs.readFileSync(refsFile, 'utf8')) as { images: Record<string, { layers: string[]; configDigest: string }> }).images : {};
    for (const [ref, r] of Object.entries(refs)) {
      for (const d of [r.configDigest, ...r.layers]) if (!fs.existsSync(path.join(blobs, d.slice(7)))) problems.push(`${ref} names blob ${d}, which is not stored`);
      for (const d of r.layers) if (!fs.existsSync(path.join(layers, d.slice(7)))) problems.push(`${ref} names layer ${d}, which is not unpacked`);
    }
    return problems;
  };

  it('never keeps a half-pulled blob as complete, and pulls and runs the image after the restart', async () => {
    const rng = seeded('crash-pull');
    const outcomes: string[] = [];
    for (const [round, image] of images.entries()) {
      const share = rng.next();
      const stored = dirBytes(path.join(cache(), 'blobs', 'sha256'));
      const pull = t.aegis(['image', 'pull', image.ref], { timeoutMs: 60_000 });
      let pulled = false;
      void pull.then(() => (pulled = true));
      // Kill once the seeded share of the image's bytes have arrived (or the pull ended first): counted over the
      // download area and the blobs, wherever the store puts bytes as they come.
      const arrived = () => dirBytes(path.join(cache(), 'incoming')) + dirBytes(path.join(cache(), 'blobs', 'sha256')) - stored;
      const deadline = Date.now() + 30_000;
      while (!pulled && arrived() < share * image.bytes && Date.now() < deadline) await sleep(2);
      const seen = arrived();
      const endedFirst = pulled;
      await killDaemon(t.home);
      const cli = await pull;
      outcomes.push(`${Math.round(share * 100)}%${endedFirst ? ' (the pull had ended)' : ''}`);
      expect(cacheProblems(), `round ${round}: kill at ${seen} of ${image.bytes} bytes`).toEqual([]);
      expect(integrityCheck(t.home)).toBe('ok');
      // A pull cut off by the daemon's death says so in one line, naming what happened.
      if (!endedFirst) expect({ code: cli.code, lines: cli.stderr.trim().split('\n').length, stderr: cli.stderr }, cli.stdout).toMatchObject({ code: 1, lines: 1, stderr: expect.stringMatching(/daemon/) });

      expect((await t.aegis(['up'])).code).toBe(0);
      // The next daemon starts from a clean incoming/ and layer dir, and the image pulls and runs whole.
      expect(fs.readdirSync(path.join(cache(), 'incoming'))).toEqual([]);
      const run = await t.aegis(['run', '--image', image.ref, '--', 'sha256sum', '/payload.bin'], { timeoutMs: 60_000 });
      expect(run, run.stderr).toMatchObject({ code: 0 });
      expect(run.stdout.split(' ')[0]).toBe(image.payloadSha);
      expect(cacheProblems()).toEqual([]);
    }
    console.log(`[faults] crash-pull: ${ROUNDS} kills at ${outcomes.join(', ')} of the image's bytes`);
  }, LONG ? 400_000 : 150_000);
});
