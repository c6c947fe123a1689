// aegis entry point: runs the CLI with the process's arguments and exits with its code.
import { runCli } from './cli.js';

runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
