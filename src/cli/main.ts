// aegis entry point: runs the CLI with the process's arguments and exits with its code. `--version`, a plain
// `aegis status` and the common forms of `aegis exec` are answered before the command parser is even loaded:
// scripts and agents call them often (quick-status.ts, quick-exec.ts).
import { AEGIS_VERSION } from '../config/version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`${AEGIS_VERSION}\n`);
} else if (argv.length === 1 && argv[0] === 'status' && (await quickStatus())) {
  // answered
} else {
  const code = argv[0] === 'exec' ? await quickExec() : undefined;
  if (code !== undefined) process.exitCode = code;
  else {
    const { runCli } = await import('./cli.js');
    process.exitCode = await runCli(argv);
  }
}

async function quickStatus(): Promise<boolean> {
  const [{ aegisPaths }, quick] = await Promise.all([import('../config/paths.js'), import('./quick-status.js')]);
  return quick.quickStatus(aegisPaths(process.env), process.stdout);
}

async function quickExec(): Promise<number | undefined> {
  const [{ aegisPaths }, quick] = await Promise.all([import('../config/paths.js'), import('./quick-exec.js')]);
  return quick.quickExec(argv, aegisPaths(process.env), process);
}
