// The libkrun backend: every machine is a libkrun microVM run by a worker process of its own (see
// krun-worker.ts), booting libkrunfw's kernel into libkrun's init, which starts the harness. The guest's
// root is the machine's image tree under its own writable disk, shared over virtiofs; the control channel
// is a virtio-console port the worker serves on the machine's control.sock.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AegisPaths } from '../../config/paths.js';
import { conflict, unavailable } from '../../errors/codes.js';
import { which } from '../../util/which.js';
import type { Backend, BackendCapabilities, MachineExit, MachineLimits, MachineSpec } from '../backend.js';
import { checkMachineSpec } from '../check-machine-spec.js';
import { pidStartTime } from '../process-util.js';
import { readRecord, writeRecord } from '../record-file.js';
import { stateDiskPath, writableDisk } from '../rootfs/writable-disk.js';
import { readRuntimeInfo, type RuntimeInfo } from '../runtime/node-runtime.js';
import { LibkrunMachine } from './libkrun-machine.js';
import { libkrunMachineDirs, type LibkrunMachineRecord } from './machine-state.js';
import { libkrunWorkerScript, probeLibkrun, workerNode, type LibkrunProbe } from './probe.js';
import { removeOrphanTrees, rootfsTree } from './rootfs-tree.js';
import { workerSpec } from './worker-spec.js';

export const LIBKRUN_CAPABILITIES: BackendCapabilities = {
  // libkrun has no call to pause a VM: an idle instance is stopped (after pauseAfter + stopAfter) instead.
  pauseResume: false,
  memorySnapshots: false,
  bootFromDiskLayers: true,
  workspaceMounts: true,
  isolation: 'vm',
};

/** Guest memory on top of the workload's: the guest kernel and the harness (node). */
export const GUEST_OVERHEAD_MIB = 64;

export interface LibkrunBackendOptions {
  paths: AegisPaths;
  runtimeDir: string;
  /** The libkrun the workers load (found by the probe). */
  library: string;
  limits?: MachineLimits;
  /** The worker script (default: the bundle in dist/). */
  workerScript?: string;
  /** Where AEGIS_LIBKRUN_NODE is read (the node the workers run on). */
  env?: NodeJS.ProcessEnv;
}

export class LibkrunBackend implements Backend {
  readonly name = 'libkrun' as const;
  readonly capabilities = LIBKRUN_CAPABILITIES;
  /** A KVM boot of libkrunfw's kernel takes well under a second; room for a busy host. */
  readonly bootTimeoutMs = 30_000;
  private readonly runtime: RuntimeInfo;
  private readonly workerScript: string;

  constructor(private readonly opts: LibkrunBackendOptions) {
    this.runtime = readRuntimeInfo(opts.runtimeDir);
    this.workerScript = opts.workerScript ?? libkrunWorkerScript();
    removeOrphanTrees(opts.paths.data);
  }

  probe(): Promise<LibkrunProbe> {
    return probeLibkrun({ env: { ...this.opts.env, AEGIS_LIBKRUN: this.opts.library }, workerScript: this.workerScript });
  }

  async start(spec: MachineSpec): Promise<LibkrunMachine> {
    const { paths, limits } = this.opts;
    checkMachineSpec(spec);
    const dirs = libkrunMachineDirs(paths.machines, spec.id);
    if (await this.adopt(spec.id)) throw conflict(`machine ${spec.id} is already running`);
    const [unshare, setpriv] = [which('unshare'), which('setpriv')];
    if (!unshare || !setpriv) throw unavailable('unshare and setpriv are not installed (apt-get install util-linux): the libkrun worker runs in a mount namespace of its own, without CAP_MKNOD');
    fs.rmSync(dirs.dir, { recursive: true, force: true });
    for (const d of [dirs.root, dirs.layer]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    const lower = await rootfsTree(paths.data, spec.rootfsLayers);
    // A state dir keeps the writable disk beyond this machine (an instance's rootfs changes), as on every backend.
    const sizeMiB = spec.diskMiB ?? limits?.diskMiB;
    if (spec.stateDir) fs.mkdirSync(spec.stateDir, { recursive: true, mode: 0o700 });
    const disk = spec.stateDir ? await writableDisk(stateDiskPath(spec.stateDir), { sizeMiB }) : await writableDisk(dirs.disk, { sizeMiB, journal: false });
    const guestMemoryMiB = spec.memoryMiB + GUEST_OVERHEAD_MIB;
    const input = workerSpec(spec, { library: this.opts.library, dirs, lower, disk, runtimeDir: this.opts.runtimeDir, runtime: this.runtime, ramMiB: guestMemoryMiB });

    const logFd = fs.openSync(dirs.workerLog, 'a', 0o600);
    // Without CAP_MKNOD: libkrun's virtiofs server creates what the guest asks for as root, and a device node
    // the guest made in the app's workspace directory would be a door into the host's devices.
    const child = spawn(unshare, ['--mount', '--propagation', 'private', '--', setpriv, '--bounding-set', '-mknod', '--inh-caps', '-mknod', '--', workerNode(this.opts.env), this.workerScript], {
      // Its own process group: a Ctrl+C aimed at the daemon's terminal must not reach machines.
      detached: true,
      stdio: ['pipe', logFd, logFd],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    fs.closeSync(logFd);
    const childExit = new Promise<MachineExit>((resolve) => {
      child.once('exit', (code, sig) => resolve({ code, signal: sig }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start machine ${spec.id}: ${unshare} did not spawn`);
    // The spec goes on stdin: nothing about the machine on any command line.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(JSON.stringify(input));
    const record: LibkrunMachineRecord = {
      backend: 'libkrun',
      id: spec.id,
      pid: child.pid,
      pidStartTime: pidStartTime(child.pid) ?? 0,
      library: this.opts.library,
      runtimeDir: this.opts.runtimeDir,
      guestMemoryMiB,
      spec,
      startedAt: new Date().toISOString(),
    };
    writeRecord(dirs.state, record);
    return new LibkrunMachine(record, dirs, { childExit, consoleBytes: limits?.consoleBytes });
  }

  async adopt(id: string): Promise<LibkrunMachine | undefined> {
    const dirs = libkrunMachineDirs(this.opts.paths.machines, id);
    const record = readRecord<LibkrunMachineRecord>(dirs.state);
    if (!record || record.backend !== 'libkrun' || pidStartTime(record.pid) !== record.pidStartTime) return undefined;
    return new LibkrunMachine(record, dirs, { consoleBytes: this.opts.limits?.consoleBytes });
  }

  async destroy(id: string): Promise<void> {
    const running = await this.adopt(id);
    if (running) await running.stop(0);
    // The worker's mounts lived in its own mount namespace: nothing is mounted here on the host.
    fs.rmSync(libkrunMachineDirs(this.opts.paths.machines, id).dir, { recursive: true, force: true });
  }
}
