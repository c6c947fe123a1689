// The aegis Cli: the command the arguments select (or all of them), run against a context built from the process.
import { Builtins, Cli } from 'clipanion';
import { aegisPaths } from '../config/paths.js';
import { AEGIS_VERSION } from '../config/version.js';
import { Aegis } from '../sdk/aegis.js';
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
  // The CLI is a client of the SDK: the same transport and calls, what it creates recorded as the CLI's.
  const aegis = new Aegis({ socket: paths.socket, source: 'cli' });
  const context: AegisContext = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    colorDepth: 1,
    paths,
    aegis,
    client: aegis.transport,
  };
  const args = argv.length === 0 ? ['help'] : argv;
  const code = await (await buildCli(args)).run(args, context);
  return typeof process.exitCode === 'number' && process.exitCode !== 0 && code === 0 ? process.exitCode : code;
}
