// Runs one `aegis` command line three ways, to hold a quick path (src/cli/quick-*.ts) to the full command:
// `bin/aegis` itself, the quick path alone (exit 99 when it would have left the command to the full one), and
// the full clipanion command alone (runCli), each a process of its own on the built dist/.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { AEGIS_BIN, ROOT } from './temp-home.js';

export interface WayResult {
  code: number;
  stdout: string;
  stderr: string;
}

const dist = (file: string) => JSON.stringify(path.join(ROOT, 'dist', file));
const QUICK = `const { aegisPaths } = await import(${dist('config/paths.js')});
const { quickExec } = await import(${dist('cli/quick-exec.js')});
const code = await quickExec(process.argv.slice(1), aegisPaths(process.env), process);
process.exitCode = code ?? 99;`;
const FULL = `const { runCli } = await import(${dist('cli/cli.js')});
process.exitCode = await runCli(process.argv.slice(1));`;

export interface WaysOptions {
  env: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Run before each way (to put the instance back in the state the case needs). */
  before?: () => Promise<void>;
  /** stdout as latin1 (one char a byte), for output that is not UTF-8. */
  raw?: boolean;
  timeoutMs?: number;
}

/** The node arguments that start each way (the command line follows them). */
export const WAYS = {
  bin: [AEGIS_BIN],
  quick: ['--input-type=module', '-e', QUICK],
  full: ['--input-type=module', '-e', FULL],
} as const;

export async function runWays(args: string[], opts: WaysOptions): Promise<{ bin: WayResult; quick: WayResult; full: WayResult }> {
  const way = async (nodeArgs: string[]) => {
    await opts.before?.();
    return run([...nodeArgs, ...args], opts);
  };
  const bin = await way([...WAYS.bin]);
  const quick = await way([...WAYS.quick]);
  const full = await way([...WAYS.full]);
  return { bin, quick, full };
}

function run(nodeArgs: string[], opts: WaysOptions): Promise<WayResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${nodeArgs.join(' ')} timed out`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? 128 + (signal ? os.constants.signals[signal] : 0),
        stdout: Buffer.concat(out).toString(opts.raw ? 'latin1' : 'utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A command that exits before reading all its input closes the pipe early: not this test's concern.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
