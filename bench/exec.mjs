// `aegis exec INSTANCE -- true` wall time (CLI start to exit) against a running served instance, beside
// `aegis --version` (node start-up plus loading the CLI: the floor any command pays) and `aegis run -- true`
// (a fresh task, default warm pool), measured interleaved in the same run. Half a second between
// iterations so the pool has refilled after each run.
import path from 'node:path';
import { AEGIS, percentile, report, round, timeRun, waitUntil, withDaemonAsync } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const THINK_MS = 500;
const p50 = (xs) => round(percentile(xs, 50));
const p95 = (xs) => round(percentile(xs, 95));
const pause = (ms) => new Promise((r) => setTimeout(r, ms));


await withDaemonAsync('router:\n  port: 0\n', {}, async ({ api, env }) => {
  const id = (await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] })).metadata.uid;
  await waitUntil(async () => (await api('GET', `/v1/instances/${id}`)).status.state === 'running', 'the instance to run');
  // Warm-up: the first run provisions the runtime; the first exec opens the path once.
  timeRun(AEGIS, ['run', '--', 'true'], { env });
  timeRun(AEGIS, ['exec', id, '--', 'true'], { env });
  await pause(THINK_MS);
  const exec = [];
  const cli = [];
  const run = [];
  for (let i = 0; i < RUNS; i++) {
    cli.push(timeRun(AEGIS, ['--version'], { env }));
    exec.push(timeRun(AEGIS, ['exec', id, '--', 'true'], { env }));
    run.push(timeRun(AEGIS, ['run', '--', 'true'], { env }));
    await pause(THINK_MS);
  }
  if ((await api('GET', `/v1/instances/${id}`)).status.state !== 'running') throw new Error('the instance should still be running');
  report({
    name: 'exec',
    runs: RUNS,
    exec_p50_ms: p50(exec),
    exec_p95_ms: p95(exec),
    cli_start_p50_ms: p50(cli),
    run_p50_ms: p50(run),
    exec_over_cli_start_ms: round(percentile(exec, 50) - percentile(cli, 50)),
    ratio_p50: round(percentile(exec, 50) / percentile(cli, 50)),
    target_ms: 150,
  });
});
