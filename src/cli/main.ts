// aegis entry point: runs the CLI with the process's arguments and exits with its code. `--version` is
// answered before the command parser is even loaded: scripts call it to probe for aegis.
import { AEGIS_VERSION } from '../config/version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`${AEGIS_VERSION}\n`);
} else {
  const { runCli } = await import('./cli.js');
  process.exitCode = await runCli(argv);
}
