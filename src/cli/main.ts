// aegis entry point: runs the CLI with the process's arguments and exits with its code. `--version`, a plain
// `aegis status` and the common forms of `aegis exec` are answered before the command parser is even loaded:
// scripts and agents call them often (quick-status.ts, quick-exec.ts). They are small and bundled into this
// one CommonJS file (scripts/bundle-entries.mjs); the full CLI is loaded only when they leave the command to it.
import { aegisPaths } from '../config/paths.js';
import { quickExec } from './quick-exec.js';
import { quickStatus } from './quick-status.js';

const argv = process.argv.slice(2);
// Not top-level await: this file is bundled as CommonJS (bin/aegis).
void main();

async function main(): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    // Imported here: finding the package's version reads files, which the other commands need not pay for.
    process.stdout.write(`${(await import('../config/version.js')).AEGIS_VERSION}\n`);
    return;
  }
  if (argv.length === 1 && argv[0] === 'status' && (await quickStatus(aegisPaths(process.env), process.stdout))) return;
  const code = argv[0] === 'exec' ? await quickExec(argv, aegisPaths(process.env), process) : undefined;
  if (code !== undefined) {
    process.exitCode = code;
    return;
  }
  const { runCli } = await import('./cli.js');
  process.exitCode = await runCli(argv);
}
