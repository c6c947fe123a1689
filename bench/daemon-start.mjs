// Daemon start: wall time of `aegis up` (spawn aegisd, open the store, build the API and the controllers,
// answer on the socket) in a fresh AEGIS_HOME, then `aegis down`. With BENCH_BASELINE_ROOT=DIR (another
// checkout, built) its `aegis up` runs interleaved in the same run, as the baseline of the ratio.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AEGIS, percentile, report, round, timeRun } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const trees = [['current', AEGIS]];
if (process.env.BENCH_BASELINE_ROOT) trees.unshift(['baseline', path.join(path.resolve(process.env.BENCH_BASELINE_ROOT), 'bin', 'aegis')]);

const times = Object.fromEntries(trees.map(([name]) => [name, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [name, aegis] of trees) {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-start-'));
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, AEGIS_HOME: home, AEGIS_WARM_MACHINES: '0' };
    fs.writeFileSync(path.join(home, 'config.yaml'), 'router:\n  port: 0\n');
    try {
      times[name].push(timeRun(aegis, ['up'], { env }));
    } finally {
      execFileSync(aegis, ['down'], { env, stdio: 'ignore' });
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
}
const p50 = (xs) => percentile(xs, 50);
const result = { name: 'daemon-start', runs: RUNS };
for (const [name] of trees) result[`${name}_up_p50_ms`] = round(p50(times[name]));
if (trees.length > 1) result.up_ratio = round(p50(times.current) / p50(times.baseline));
report(result);
