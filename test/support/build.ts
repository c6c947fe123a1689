// vitest global setup: make sure dist/ (CLI, daemon, harness bundle) is built from the current sources.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './temp-home.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  if (process.env.AEGIS_TEST_NO_BUILD) return; // unit-only runs while dist/ is known to be stale
  // Every part of the build must be newer than every source: tsc output, the four bundles and the dashboard's.
  const outputs = ['cli/main.js', 'harness/aegis-harness.mjs', 'cli/aegis.cjs', 'daemon/aegisd.mjs', 'vmm/libkrun/krun-worker.mjs', 'ui/assets/dashboard.js'].map((f) => path.join(ROOT, 'dist', f));
  const built = Math.min(...outputs.map((f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0)));
  if (built >= newestMtime(path.join(ROOT, 'src'))) return;
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
