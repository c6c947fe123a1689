// Bundles the web dashboard (src/ui/web) for the browser into dist/ui/assets: dashboard.js and dashboard.css
// (xterm's stylesheet included), served by the daemon itself. Nothing is fetched from a CDN at run time.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'ui', 'assets');
const started = Date.now();
fs.rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { dashboard: path.join(root, 'src', 'ui', 'web', 'dashboard.js') },
  outdir,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: true,
  legalComments: 'external',
  logLevel: 'warning',
});
console.log(`bundled dist/ui/assets in ${Date.now() - started} ms`);
