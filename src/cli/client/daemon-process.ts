// Starting and stopping the aegisd process for `aegis up` / `aegis down`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AegisPaths } from '../../config/paths.js';
import { PACKAGE_ROOT } from '../../config/version.js';
import { isAlive, runningPid } from '../../daemon/pid-file.js';
import { CliError } from '../cli-error.js';

/** The aegisd launcher next to the running aegis launcher, else the built entry point in dist/. */
export function locateDaemon(): string[] {
  const launcher = process.argv[1] ? path.join(path.dirname(fs.realpathSync(process.argv[1])), 'aegisd') : '';
  if (launcher && fs.existsSync(launcher)) return [launcher];
  return [process.execPath, path.join(PACKAGE_ROOT, 'dist', 'daemon', 'aegisd.mjs')];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts aegisd with only the part of `env` it needs (see daemonEnvironment) and waits until it is ready. */
export async function startDaemonProcess(paths: AegisPaths, env: NodeJS.ProcessEnv, waitMs: number): Promise<number> {
  fs.mkdirSync(paths.data, { recursive: true, mode: 0o700 });
  const outFile = path.join(paths.data, 'aegisd.out');
  const out = fs.openSync(outFile, 'a');
  const [cmd, ...args] = locateDaemon();
  // Loaded here: it reads config.yaml (yaml, zod), which no other command should pay for at start-up.
  const { daemonEnvironment } = await import('../../config/daemon-env.js');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: daemonEnvironment(env, paths.config) });
  fs.closeSync(out);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const pid = runningPid(paths.pidFile);
    if (pid !== undefined && pid === child.pid) return pid;
    if (exited !== null) {
      const tail = fs.readFileSync(outFile, 'utf8').trim().split('\n').pop() ?? '';
      throw new CliError(`aegisd exited during start-up (code ${exited})${tail ? `: ${tail.replace(/^aegisd: /, '')}` : ''}`);
    }
    await sleep(20);
  }
  throw new CliError(`aegisd did not become ready within ${waitMs / 1000} s; see ${outFile} and ${paths.daemonLog}`);
}

/** Sends SIGTERM and waits for the process to exit; false when it is still alive after waitMs. */
export async function stopDaemonProcess(pid: number, waitMs: number): Promise<boolean> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return true;
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}
