// The aegis Cli: the command the arguments select (or all of them), run against a context built from the process.
import { Builtins, Cli } from 'clipanion';
import { aegisPaths } from '../config/paths.js';
import { AEGIS_VERSION } from '../config/version.js';
import { DaemonClient } from './client/daemon-client.js';
import { COMMANDS, commandFor } from './commands/index.js';
import type { AegisContext } from './context.js';

/** A Cli with the command `argv` selects, or with every command when `argv` is absent or selects none. */
export async function buildCli(argv?: string[]): Promise<Cli<AegisContext>> {
  const cli = new Cli<AegisContext>({ binaryLabel: 'Aegis', binaryName: 'aegis', binaryVersion: AEGIS_VERSION, enableColors: false });
  const one = argv && commandFor(argv);
  for (const command of await Promise.all((one ? [one] : COMMANDS).map((c) => c.load()))) cli.register(command);
  cli.register(Builtins.VersionCommand);
  return cli;
}

export async function runCli(argv: string[]): Promise<number> {
  const paths = aegisPaths(process.env);
  const context: AegisContext = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    colorDepth: 1,
    paths,
    client: new DaemonClient(paths.socket),
  };
  const args = argv.length === 0 ? ['help'] : argv;
  const code = await (await buildCli(args)).run(args, context);
  return typeof process.exitCode === 'number' && process.exitCode !== 0 && code === 0 ? process.exitCode : code;
}
