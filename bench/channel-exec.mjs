// Control-channel exec latency: 200 sequential `exec true` over one session, beside a direct spawn('true').
// Needs `npm run build` (dist/harness/aegis-harness.mjs and dist/vmm/channel/control-client.js).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile, report, round, ROOT } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const WARMUP = 10;
const bundle = path.join(ROOT, 'dist', 'harness', 'aegis-harness.mjs');
const clientModule = path.join(ROOT, 'dist', 'vmm', 'channel', 'control-client.js');
for (const file of [bundle, clientModule]) {
  if (!fs.existsSync(file)) {
    console.error(`channel-exec: ${path.relative(ROOT, file)} is missing; run npm run build first`);
    process.exit(1);
  }
}
const { ControlClient } = await import(pathToFileURL(clientModule).href);

/** Direct spawn with the same stdio shape the harness uses (piped stdout/stderr, own process group). */
function spawnTrue() {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout.resume();
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', resolve);
  });
}

async function execTrue(client) {
  const handle = client.exec({ argv: ['true'], env: {}, stdin: false });
  handle.stdout.resume();
  handle.stderr.resume();
  const exit = await handle.exit;
  if (exit.code !== 0) throw new Error(`exec true: ${JSON.stringify(exit)}`);
}

async function measure(fn) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-bench-channel-'));
const socketPath = path.join(dir, 'control.sock');
const harness = spawn(process.execPath, [bundle], { env: { AEGIS_CONTROL_SOCKET: socketPath }, stdio: ['ignore', 'ignore', 'pipe'] });
try {
  await new Promise((resolve, reject) => {
    let log = '';
    harness.stderr.on('data', (c) => {
      log += c;
      if (log.includes('listening on')) resolve();
    });
    harness.once('exit', (code) => reject(new Error(`harness exited with ${code}: ${log}`)));
  });
  const client = await ControlClient.connect(net.connect(socketPath), { timeoutMs: 5000 });
  const baseline = await measure(spawnTrue);
  const channel = await measure(() => execTrue(client));
  await client.close();
  report({
    name: 'channel-exec',
    runs: RUNS,
    p50Ms: round(percentile(channel, 50)),
    p95Ms: round(percentile(channel, 95)),
    baselineP50Ms: round(percentile(baseline, 50)),
    baselineP95Ms: round(percentile(baseline, 95)),
    ratio: round(percentile(channel, 50) / percentile(baseline, 50)),
  });
} finally {
  harness.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
}
