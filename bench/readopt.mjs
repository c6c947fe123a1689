// Re-adoption after a crash: 20 serving instances, aegisd killed with SIGKILL, then `aegis up` timed until all
// 20 answer through the router again (on the machines they had: re-adopted, not rebooted). Baseline in the
// same run: the same kill and `aegis up` of a daemon with no instances, timed until its API answers.
// Medians over BENCH_RUNS restarts (default 3). Target: < 2 s to all serving again. Then aegisd's CPU while
// idle with the re-adopted machines (their processes are not its children: it watches them for exit), over
// BENCH_IDLE_MS (a minute by default), against the empty daemon's after its restart.
import { execFileSync } from 'node:child_process';
import { AEGIS, cpuPercentOver, daemonPid, percentile, report, round, ttfb, waitUntil, withDaemonAsync } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 20);
const CONFIG = 'router:\n  port: 0\nidle:\n  pauseAfter: 1h\n  stopAfter: 1h\n';
const ENV = { AEGIS_WARM_MACHINES: '0' };
const IDLE_SAMPLE_MS = Number(process.env.BENCH_IDLE_MS ?? 60_000);
/** A daemon's first seconds after a start carry its own start-up work (compiling, collecting): not idle yet. */
const SETTLE_MS = 15_000;
const idleCpuPct = async (home) => {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return cpuPercentOver(daemonPid(home), IDLE_SAMPLE_MS);
};

function killDaemon(home) {
  const pid = daemonPid(home);
  process.kill(pid, 'SIGKILL');
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
}

/** kill -9, then `aegis up` and `ready()`; the ms from the start of `aegis up` until ready() holds. */
async function restart(home, env, ready) {
  killDaemon(home);
  const t0 = performance.now();
  execFileSync(AEGIS, ['up'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  await waitUntil(ready, 'ready after the restart', 60_000);
  return performance.now() - t0;
}

const baseline = await withDaemonAsync(CONFIG, ENV, async ({ home, env, api }) => {
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(await restart(home, env, async () => (await api('GET', '/v1/status')).pid > 0));
  return { times, idleCpuPct: await idleCpuPct(home) };
});

const readopt = await withDaemonAsync(CONFIG, ENV, async ({ home, env, api }) => {
  let router = (await api('GET', '/v1/status')).router;
  const ids = [];
  for (let i = 0; i < INSTANCES; i++) ids.push((await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] })).metadata.uid);
  const machines = async () => Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await api('GET', `/v1/instances/${id}`)).status.machineId])));
  // All serving (each answered through the router) before the first kill.
  await waitUntil(async () => (await Promise.all(ids.map((id) => ttfb(router, id).then(() => true, () => false)))).every(Boolean), 'all instances serving', 180_000);
  const before = await machines();
  const times = [];
  const pending = new Set();
  for (let i = 0; i < RUNS; i++) {
    times.push(
      await restart(home, env, async () => {
        router = (await api('GET', '/v1/status')).router;
        for (const id of ids) pending.add(id);
        await Promise.all(ids.map((id) => ttfb(router, id).then(() => pending.delete(id), () => undefined)));
        return pending.size === 0;
      }),
    );
  }
  const after = await machines();
  const rebooted = ids.filter((id) => after[id] !== before[id]).length;
  return { times, rebooted, idleCpuPct: await idleCpuPct(home) };
});

const p50 = (xs) => round(percentile(xs, 50));
report({
  name: 'readopt-after-kill',
  instances: INSTANCES,
  runs: RUNS,
  all_serving_p50_ms: p50(readopt.times),
  all_serving_max_ms: round(Math.max(...readopt.times)),
  baseline_empty_daemon_p50_ms: p50(baseline.times),
  ratio_p50: round(percentile(readopt.times, 50) / percentile(baseline.times, 50)),
  rebooted_instead_of_adopted: readopt.rebooted,
  target_ms: 2000,
  daemon_idle_cpu_pct_after_readopt: round(readopt.idleCpuPct),
  baseline_empty_daemon_idle_cpu_pct: round(baseline.idleCpuPct),
});
