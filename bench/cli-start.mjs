// CLI start-up: `aegis --version` and `aegis status` (a daemon running) wall time beside a bare `node -e 0`,
// the floor any Node program pays, measured interleaved in the same run. Target: at most 1.5x the floor.
import { AEGIS, percentile, report, round, timeRun, withDaemonAsync } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const p50 = (xs) => round(percentile(xs, 50));

await withDaemonAsync('router:\n  port: 0\n', {}, async ({ env }) => {
  timeRun(AEGIS, ['status'], { env }); // warm the page cache
  const node = [];
  const version = [];
  const status = [];
  for (let i = 0; i < RUNS; i++) {
    node.push(timeRun(process.execPath, ['-e', '0'], { env }));
    version.push(timeRun(AEGIS, ['--version'], { env }));
    status.push(timeRun(AEGIS, ['status'], { env }));
  }
  report({
    name: 'cli-start',
    runs: RUNS,
    node_p50_ms: p50(node),
    version_p50_ms: p50(version),
    status_p50_ms: p50(status),
    version_ratio: round(percentile(version, 50) / percentile(node, 50)),
    status_ratio: round(percentile(status, 50) / percentile(node, 50)),
  });
});
