// The guest's Node runtime: the host's node binary, the shared libraries it loads and their loader, plus the
// harness bundle and the tools the guest runs from it (nsenter joins the machine's user namespace, setpriv
// drops capabilities, umount detaches the host root, date sets a VM's clock, setsid gives a console exec its
// terminal) and koffi's native module (the
// harness loads its system call filter with it), in one directory mounted read-only at /.aegis so any image
// (busybox, musl, glibc) can run it.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import type { AegisPaths } from '../../config/paths.js';
import { which } from '../../util/which.js';
import { buildOnce } from '../build-once.js';

export interface RuntimeInfo {
  /** File name of the dynamic loader inside lib/ (e.g. ld-linux-x86-64.so.2). */
  loader: string;
  nodeVersion: string;
}

/** How the guest starts the harness, relative to the runtime's mount point. */
export function harnessCommand(mount: string, info: RuntimeInfo): string[] {
  return [`${mount}/lib/${info.loader}`, '--library-path', `${mount}/lib`, `${mount}/bin/node`, `${mount}/harness/aegis-harness.mjs`];
}

export function readRuntimeInfo(dir: string): RuntimeInfo {
  return JSON.parse(fs.readFileSync(path.join(dir, 'runtime.json'), 'utf8')) as RuntimeInfo;
}

/** Builds (once per node version and harness build) and returns the runtime directory. */
export async function provisionRuntime(paths: AegisPaths, harnessBundle: string): Promise<string> {
  const bundle = fs.readFileSync(harnessBundle);
  const key = crypto.createHash('sha256').update(process.version).update(process.execPath).update(bundle).update('setpriv+umount+date+nsenter+setsid+koffi').digest('hex').slice(0, 16);
  const dir = await buildOnce(path.join(paths.runtime, key), (tmp) => {
    for (const d of ['bin', 'lib', 'harness']) fs.mkdirSync(path.join(tmp, d));
    // util-linux tools the launch needs after pivoting into an image that may not have them, and date,
    // which sets a VM's clock after a pause (the harness's clock call).
    const tools = ['setpriv', 'umount', 'date', 'nsenter', 'setsid'].map((name) => {
      const file = which(name);
      if (!file) throw new Error(`${name} is not installed (apt-get install util-linux mount coreutils)`);
      return [file, name] as const;
    });
    let loader = '';
    for (const [binary, name] of [[process.execPath, 'node'] as const, ...tools]) {
      fs.copyFileSync(binary, path.join(tmp, 'bin', name));
      const found = sharedLibraries(binary);
      loader = found.loader;
      for (const [lib, file] of found.libs) fs.copyFileSync(fs.realpathSync(file), path.join(tmp, 'lib', lib));
    }
    const koffiModule = loadedKoffiModule();
    fs.copyFileSync(koffiModule, path.join(tmp, 'lib', 'koffi.node'));
    for (const [lib, file] of sharedLibraries(koffiModule).libs) fs.copyFileSync(fs.realpathSync(file), path.join(tmp, 'lib', lib));
    fs.writeFileSync(path.join(tmp, 'harness', 'aegis-harness.mjs'), bundle);
    const info: RuntimeInfo = { loader, nodeVersion: process.version };
    fs.writeFileSync(path.join(tmp, 'runtime.json'), JSON.stringify(info) + '\n');
  });
  removeUnusedRuntimes(paths, dir);
  return dir;
}

/** The file of koffi's native module this process has loaded: the guest's node loads the same one. */
function loadedKoffiModule(): string {
  void koffi.version; // loaded on import; named here so the import is not dropped
  const file = /\s(\/\S*\/koffi\.node)$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8'))?.[1];
  if (!file) throw new Error("cannot find koffi's native module among this process's mappings");
  return file;
}

/**
 * Deletes runtimes of earlier node versions or harness builds (100 MB each), but only when it is certain
 * that no live machine mounts one: every live machine's state.json must name its runtime dir, else
 * nothing is removed. In-progress builds (.tmp-*) are left to their builders.
 */
export function removeUnusedRuntimes(paths: AegisPaths, current: string): string[] {
  const inUse = new Set<string>([path.resolve(current)]);
  for (const id of safeReaddir(paths.machines)) {
    let record: { pid?: unknown; runtimeDir?: unknown };
    try {
      record = JSON.parse(fs.readFileSync(path.join(paths.machines, id, 'state.json'), 'utf8'));
    } catch {
      continue; // no record: nothing of this machine is running
    }
    if (typeof record.pid !== 'number' || !isAlive(record.pid)) continue;
    if (typeof record.runtimeDir !== 'string') return []; // a live machine we cannot attribute: unsure
    inUse.add(path.resolve(record.runtimeDir));
  }
  const removed: string[] = [];
  for (const entry of safeReaddir(paths.runtime)) {
    const dir = path.join(paths.runtime, entry);
    if (entry.startsWith('.tmp-') || inUse.has(dir) || !fs.existsSync(path.join(dir, 'runtime.json'))) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The libraries `ldd` resolves for a binary (name → host path) and the loader's file name. */
export function sharedLibraries(binary: string): { libs: Map<string, string>; loader: string } {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = new Map<string, string>();
  let loader: string | undefined;
  for (const line of out.split('\n')) {
    const mapped = /^\s*(\S+) => (\/\S+) \(0x[0-9a-f]+\)/.exec(line);
    if (mapped && mapped[1].startsWith('/')) {
      // Some distros print the loader as `/lib64/ld-linux-x86-64.so.2 => /lib/x86_64-linux-gnu/ld-…`.
      loader = path.basename(mapped[1]);
      libs.set(loader, mapped[2]);
      continue;
    }
    if (mapped) {
      libs.set(mapped[1], mapped[2]);
      continue;
    }
    const direct = /^\s*(\/\S+) \(0x[0-9a-f]+\)/.exec(line);
    if (direct) {
      loader = path.basename(direct[1]);
      libs.set(loader, direct[1]);
    }
  }
  if (!loader) throw new Error(`cannot find the dynamic loader of ${binary} in ldd's output (is node statically linked?)`);
  return { libs, loader };
}
