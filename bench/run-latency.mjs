// `aegis run -- true` wall time (CLI start to exit) beside the host's floor: unshare + chroot of the same rootfs.
import fs from 'node:fs';
import path from 'node:path';
import { AEGIS, percentile, report, round, timeRun, withDaemon } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);

withDaemon(({ home, env }) => {
  timeRun(AEGIS, ['run', '--', 'true'], { env }); // first run provisions the runtime and base rootfs
  const aegis = Array.from({ length: RUNS }, () => timeRun(AEGIS, ['run', '--', 'true'], { env }));
  const rootfsDir = path.join(home, 'data', 'rootfs');
  const base = path.join(rootfsDir, fs.readdirSync(rootfsDir).find((d) => d.startsWith('base')));
  const floor = Array.from({ length: RUNS }, () =>
    timeRun('unshare', ['--pid', '--fork', '--mount', '--net', '--ipc', '--uts', 'chroot', base, '/bin/true']),
  );
  report({
    name: 'run-latency',
    runs: RUNS,
    p50Ms: round(percentile(aegis, 50)),
    p95Ms: round(percentile(aegis, 95)),
    floorP50Ms: round(percentile(floor, 50)),
    floorP95Ms: round(percentile(floor, 95)),
    ratioP50: round(percentile(aegis, 50) / percentile(floor, 50)),
  });
});
