// aegis entry point: runs the CLI with the process's arguments and exits with its code. `--version` and a
// plain `aegis status` are answered before the command parser is even loaded: scripts call them to probe.
import { AEGIS_VERSION } from '../config/version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`${AEGIS_VERSION}\n`);
} else if (!(argv.length === 1 && argv[0] === 'status' && (await quickStatus()))) {
  const { runCli } = await import('./cli.js');
  process.exitCode = await runCli(argv);
}

/** `aegis status` in its plain case, without the command parser (see quick-status.ts). */
async function quickStatus(): Promise<boolean> {
  const [{ aegisPaths }, quick] = await Promise.all([import('../config/paths.js'), import('./quick-status.js')]);
  return quick.quickStatus(aegisPaths(process.env), process.stdout);
}
