// Apply at scale: 500 Apps in one directory, which the daemon also watches.
//   apply_ms:          `aegis apply -f DIR` creating all of them (one run);
//   noop_apply_ms:     the same command again, nothing to change (median of ROUNDS; target < 500 ms);
//   noop_server_ms:    the daemon's part of it: POST /v1/apply with the same objects (median of ROUNDS);
//   watch_restart_ms:  one served app's file edited (a restart field) until its instance runs a new machine
//                      (median of ROUNDS; includes the watcher's 300 ms debounce).
// The baseline is `aegis --version` in the same run: the floor of any CLI command.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { AEGIS, percentile, report, round, timeRun, waitUntil, withDaemonAsync } from './lib.mjs';

const APPS = Number(process.env.BENCH_APPS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (xs) => percentile(xs, 50);

/** An OCI image layout (no registry, no network) with the host's static busybox as /bin/{busybox,sh,httpd}. */
async function busyboxImage(dir) {
  const pack = tar.pack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const done = new Promise((r) => pack.on('end', r));
  pack.entry({ name: 'bin/', type: 'directory', mode: 0o755 });
  pack.entry({ name: 'bin/busybox', mode: 0o755 }, fs.readFileSync('/bin/busybox'));
  for (const l of ['sh', 'httpd', 'echo']) pack.entry({ name: `bin/${l}`, type: 'symlink', linkname: 'busybox' });
  pack.entry({ name: 'etc/', type: 'directory', mode: 0o755 });
  pack.entry({ name: 'etc/hostname' }, 'bench\n');
  pack.finalize();
  await done;
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (bytes) => {
    const hex = crypto.createHash('sha256').update(bytes).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = put(Buffer.concat(chunks));
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const ref = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [ref] }));
  return `oci:${dir}:1`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-apps-'));
// Inside the watched directory (which reads no image outside it), hidden from the manifest loader.
const image = await busyboxImage(path.join(dir, '.image'));
const spec = (msg) => ({ image, command: ['sh', '-c', `echo ${msg}; exec httpd -f -p 80 -h /etc`], expose: [80] });
const appYaml = (i, msg = 'v1') => `apiVersion: aegis.dev/v1
kind: App
metadata:
  name: app-${String(i).padStart(3, '0')}
  labels: {bench: apply-scale}
spec: ${JSON.stringify(spec(msg))}
`;

try {
  await withDaemonAsync(`router:\n  port: 0\nwatch: ${dir}\nwatchInterval: 1h\n`, { AEGIS_WARM_MACHINES: '0' }, async ({ api, env }) => {
    const aegis = (...args) => timeRun(AEGIS, args, { env });
    for (let i = 0; i < APPS; i++) fs.writeFileSync(path.join(dir, `app-${String(i).padStart(3, '0')}.yaml`), appYaml(i));

    const applyMs = aegis('apply', '-f', dir);
    if ((await api('GET', '/v1/apps')).items.length !== APPS) throw new Error(`expected ${APPS} apps after apply`);
    // Let the watcher's own apply of the new files (and the controllers' first reports) settle first.
    await new Promise((r) => setTimeout(r, 2000));

    const floor = [];
    const noop = [];
    const server = [];
    const objects = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => {
        const i = Number(/\d+/.exec(f)[0]);
        return { apiVersion: 'aegis.dev/v1', kind: 'App', metadata: { name: `app-${String(i).padStart(3, '0')}`, labels: { bench: 'apply-scale' } }, spec: spec('v1') };
      });
    for (let r = 0; r < ROUNDS; r++) {
      floor.push(aegis('--version'));
      noop.push(aegis('apply', '-f', dir));
      const t0 = performance.now();
      const { results } = await api('POST', '/v1/apply', { source: `file:${dir}`, objects });
      server.push(performance.now() - t0);
      if (results.some((x) => x.action !== 'unchanged')) throw new Error('a no-op apply changed something');
    }

    // One served app: edit its file, time until its instance runs a new machine.
    const name = 'app-000';
    aegis('app', 'publish', name);
    await api('POST', `/v1/apps/${name}/serve`, {});
    const machineOf = async () => (await api('GET', '/v1/instances')).items.find((i) => i.spec.app === name)?.status;
    const restart = [];
    let machine = await waitUntil(async () => {
      const s = await machineOf();
      return s?.state === 'running' && s.machineId;
    }, 'the served app to run', 60_000);
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      fs.writeFileSync(path.join(dir, `${name}.yaml`), appYaml(0, `v${r + 2}`));
      machine = await waitUntil(async () => {
        const s = await machineOf();
        return s?.state === 'running' && s.machineId !== machine && s.machineId;
      }, 'the instance to restart', 60_000).catch(async (err) => {
        throw new Error(`${err.message}; watch: ${JSON.stringify((await api('GET', '/v1/status')).watch)}; instance: ${JSON.stringify(await machineOf())}`);
      });
      restart.push(performance.now() - t0);
    }

    report({
      name: 'apply-scale',
      apps: APPS,
      rounds: ROUNDS,
      apply_ms: round(applyMs),
      noop_apply_ms: round(median(noop)),
      noop_server_ms: round(median(server)),
      target_noop_apply_ms: 500,
      cli_floor_ms: round(median(floor)),
      ratio_noop_to_floor: round(median(noop) / median(floor)),
      watch_restart_ms: round(median(restart)),
    });
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
