// Wake time to first byte: a request to a paused instance (idle pauseAfter 300 ms, stopAfter an hour)
// timed from connect to the first response byte, beside the same request to the same instance while it
// runs (taken right after each wake, before it pauses again). Then, in a second daemon with stopAfter
// 300 ms, the same for a stopped instance (a cold boot: no warm machine). Each request is its own
// connection and closes (an open socket would keep the instance awake).
import { measureWake, percentile, report, round, withDaemonAsync } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 8);
const p50 = (xs) => round(percentile(xs, 50));
const p95 = (xs) => round(percentile(xs, 95));

const paused = await withDaemonAsync('router:\n  port: 0\nidle:\n  pauseAfter: 300ms\n  stopAfter: 1h\n', { AEGIS_WARM_MACHINES: '0' }, ({ api }) => measureWake(api, 'paused', RUNS));
report({
  name: 'wake-from-pause',
  runs: RUNS,
  ttfb_p50_ms: p50(paused.wake),
  ttfb_p95_ms: p95(paused.wake),
  running_ttfb_p50_ms: p50(paused.running),
  running_ttfb_p95_ms: p95(paused.running),
  ratio_p50: round(percentile(paused.wake, 50) / percentile(paused.running, 50)),
  target_ms: 50,
});

const stopped = await withDaemonAsync('router:\n  port: 0\nidle:\n  pauseAfter: 300ms\n  stopAfter: 300ms\n', { AEGIS_WARM_MACHINES: '0' }, ({ api }) => measureWake(api, 'stopped', COLD_RUNS));
report({
  name: 'wake-from-stopped',
  runs: COLD_RUNS,
  ttfb_p50_ms: p50(stopped.wake),
  ttfb_p95_ms: p95(stopped.wake),
  running_ttfb_p50_ms: p50(stopped.running),
  ratio_p50: round(percentile(stopped.wake, 50) / percentile(stopped.running, 50)),
});
