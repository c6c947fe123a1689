// `aegis cp` throughput: a 256 MiB file uploaded into a served instance and downloaded back, each timed
// (CLI start to exit) beside `cat SRC | cat > DST` on the host (a plain pipe: the floor of any copy through a
// process), interleaved in the same run; medians of BENCH_RUNS runs. The guest copy lives on the machine's
// disk (its writable layer), not in a tmpfs, and is deleted between runs so only one copy takes room.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AEGIS, percentile, report, round, timeRun, waitUntil, withDaemonAsync } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MIB = Number(process.env.BENCH_FILE_MIB ?? 256);
const median = (xs) => percentile(xs, 50);
const mibPerS = (ms) => round(MIB / (ms / 1000));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-cp-'));
try {
  const src = path.join(dir, 'big.bin');
  const fd = fs.openSync(src, 'w');
  for (let i = 0; i < MIB; i++) fs.writeSync(fd, randomBytes(1024 * 1024));
  fs.closeSync(fd);
  const back = path.join(dir, 'back.bin');
  const piped = path.join(dir, 'piped.bin');

  await withDaemonAsync('router:\n  port: 0\n', {}, async ({ api, env }) => {
    const id = (await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080], resources: { memoryMiB: 512 } })).metadata.uid;
    await waitUntil(async () => (await api('GET', `/v1/instances/${id}`)).status.state === 'running', 'the instance to run');
    const guest = `${id}:/srv/big.bin`;
    const removeGuest = () => api('DELETE', `/v1/instances/${id}/files?path=/srv/big.bin`).catch(() => undefined);
    // Warm-up: page cache, the CLI's first start, the guest path.
    timeRun('sh', ['-c', 'cat "$1" | cat > "$2"', 'sh', src, piped]);
    timeRun(AEGIS, ['cp', src, guest], { env });
    const up = [];
    const down = [];
    const cat = [];
    for (let i = 0; i < RUNS; i++) {
      fs.rmSync(piped, { force: true });
      cat.push(timeRun('sh', ['-c', 'cat "$1" | cat > "$2"', 'sh', src, piped]));
      await removeGuest();
      up.push(timeRun(AEGIS, ['cp', src, guest], { env }));
      fs.rmSync(back, { force: true });
      down.push(timeRun(AEGIS, ['cp', guest, back], { env }));
    }
    if (fs.statSync(back).size !== MIB * 1024 * 1024) throw new Error('the downloaded copy has the wrong size');
    await removeGuest();
    // Instances outlive `aegis down`: delete it and wait until its machine is gone.
    await api('DELETE', `/v1/instances/${id}`);
    await waitUntil(async () => (await api('GET', '/v1/instances')).items.length === 0, 'the instance to be deleted');
    report({
      name: 'file-copy',
      runs: RUNS,
      file_mib: MIB,
      cat_pipe_p50_ms: round(median(cat)),
      upload_p50_ms: round(median(up)),
      download_p50_ms: round(median(down)),
      cat_pipe_mib_s: mibPerS(median(cat)),
      upload_mib_s: mibPerS(median(up)),
      download_mib_s: mibPerS(median(down)),
      upload_ratio_vs_cat: round(median(up) / median(cat)),
      download_ratio_vs_cat: round(median(down) / median(cat)),
    });
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
