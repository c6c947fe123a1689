// `aegis run -- true` wall time (CLI start to exit) three ways: interactive (half a second between runs,
// so the warm pool has refilled), back to back (the refill boot competes with the next run), and cold
// (no pool: every run boots). Beside two floors taken in the same run: the host's own
// `unshare … chroot BASE /bin/true`, and `aegis --version` (node start-up plus loading the CLI).
// And what the network costs a boot: cold runs with the default network and with `--network none` (no
// slirp4netns, no egress cgroup), alternated in one daemon so that both see the same load on a shared host.
import fs from 'node:fs';
import path from 'node:path';
import { AEGIS, percentile, report, round, timeRun, withDaemon } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const p50 = (xs) => round(percentile(xs, 50));
const p95 = (xs) => round(percentile(xs, 95));

const THINK_MS = 500;
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function measure(extraEnv, thinkMs = 0) {
  return withDaemon(({ home, env }) => {
    timeRun(AEGIS, ['run', '--', 'true'], { env }); // the first run provisions the runtime and base rootfs
    const runs = Array.from({ length: RUNS }, () => {
      pause(thinkMs);
      return timeRun(AEGIS, ['run', '--', 'true'], { env });
    });
    const rootfsDir = path.join(home, 'data', 'rootfs');
    const base = path.join(rootfsDir, fs.readdirSync(rootfsDir).find((d) => d.startsWith('base')));
    const floor = Array.from({ length: RUNS }, () => timeRun('unshare', ['--pid', '--fork', '--mount', '--net', '--ipc', '--uts', 'chroot', base, '/bin/true']));
    return { runs, floor };
  }, extraEnv);
}

const warm = measure({}, THINK_MS);
const backToBack = measure({});
const cold = measure({ AEGIS_WARM_MACHINES: '0' });
const network = withDaemon(({ env }) => {
  timeRun(AEGIS, ['run', '--', 'true'], { env });
  const withNetwork = [];
  const without = [];
  for (let i = 0; i < RUNS; i++) {
    withNetwork.push(timeRun(AEGIS, ['run', '--', 'true'], { env }));
    without.push(timeRun(AEGIS, ['run', '--network', 'none', '--', 'true'], { env }));
  }
  return { withNetwork, without };
}, { AEGIS_WARM_MACHINES: '0' });
const floor = warm.floor;
const cli = Array.from({ length: RUNS }, () => timeRun(AEGIS, ['--version'], { env: { PATH: process.env.PATH } }));

report({
  name: 'run-latency',
  runs: RUNS,
  p50Ms: p50(warm.runs),
  p95Ms: p95(warm.runs),
  backToBackP50Ms: p50(backToBack.runs),
  backToBackP95Ms: p95(backToBack.runs),
  coldP50Ms: p50(cold.runs),
  coldP95Ms: p95(cold.runs),
  floorP50Ms: p50(floor),
  cliStartP50Ms: p50(cli),
  ratioP50: round(percentile(warm.runs, 50) / percentile(floor, 50)),
  coldRatioP50: round(percentile(cold.runs, 50) / percentile(floor, 50)),
  coldNetworkP50Ms: p50(network.withNetwork),
  coldNoNetworkP50Ms: p50(network.without),
  networkColdRatioP50: round(percentile(network.withNetwork, 50) / percentile(network.without, 50)),
});
