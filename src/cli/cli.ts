// The aegis Cli: every command registered, run against a context built from the process.
import { Builtins, Cli } from 'clipanion';
import { aegisPaths } from '../config/paths.js';
import { AEGIS_VERSION } from '../config/version.js';
import { DaemonClient } from './client/daemon-client.js';
import * as commands from './commands/index.js';
import type { AegisContext } from './context.js';

export function buildCli(): Cli<AegisContext> {
  const cli = new Cli<AegisContext>({ binaryLabel: 'Aegis', binaryName: 'aegis', binaryVersion: AEGIS_VERSION, enableColors: false });
  for (const command of Object.values(commands)) cli.register(command);
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
  const code = await buildCli().run(argv.length === 0 ? ['help'] : argv, context);
  return typeof process.exitCode === 'number' && process.exitCode !== 0 && code === 0 ? process.exitCode : code;
}
