// The parts of an instance's machine that hold no runtime state: booting one for a plan (what its memory
// snapshot is keyed by, the directory of its writable layer, its workspace), its boot log, flushing the
// guest's writes before it goes, saving its memory, and setting its clock.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Machine } from '../vmm/backend.js';
import type { ControlClient } from '../vmm/channel/control-client.js';
import type { MachineHost } from '../vmm/machine-host.js';
import { bootMachine, type BootedMachine } from './boot-machine.js';
import { readFileTail } from '../util/read-file-end.js';
import type { InstancePlan } from './instance-plan.js';
import type { InstanceLogSink } from './instance-runtime.js';

/** Boots a machine for `plan`: its image's layers over the instance's writable layer, its workspace, network and shape. */
export async function bootPlan(host: MachineHost, plan: InstancePlan, opts: { hostname: string; stateDir: string; log: InstanceLogSink }): Promise<BootedMachine> {
  // A backend that cannot mount a host directory boots without /workspace rather than not at all.
  const workspaceDir = plan.workspaceDir && host.backend.capabilities.workspaceMounts ? plan.workspaceDir : undefined;
  if (plan.workspaceDir && !workspaceDir) opts.log.system(`no /workspace: the ${host.backend.name} backend cannot mount host directories yet`);
  // The workspace outlives machines (and the app, unless purged): created on first boot.
  if (workspaceDir) fs.mkdirSync(workspaceDir, { recursive: true });
  return bootMachine(host, plan.resources, {
    ...(plan.image ? { layers: plan.image.layerDirs } : {}),
    hostname: opts.hostname,
    ...(workspaceDir ? { workspaceDir } : {}),
    stateDir: writableLayerDir(opts.stateDir, plan, opts.log),
    snapshotKey: snapshotKey(plan),
    network: plan.network,
  });
}

/** A boot log longer than this (a chatty kernel) keeps only its end. */
const MAX_BOOT_LOG_BYTES = 64 * 1024;
const SYNC_TIMEOUT_MS = 5_000;

/** What the server in a machine is: a memory snapshot is resumed only while this stays the same. */
export function snapshotKey(plan: InstancePlan): string {
  const what = { release: plan.release ?? null, image: plan.image?.digest ?? null, command: plan.command, env: plan.env, cwd: plan.cwd ?? null, user: plan.user };
  return crypto.createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 32);
}

/** Runs `sync` in the guest, best effort and bounded: a stuck guest must not hold up its own stop. */
export async function syncGuest(client: ControlClient): Promise<void> {
  try {
    const h = client.exec({ argv: ['sync'], env: {}, stdin: false });
    h.stdout.resume();
    h.stderr.resume();
    await Promise.race([h.exit, new Promise((r) => setTimeout(r, SYNC_TIMEOUT_MS))]);
  } catch {
    /* the channel is gone: nothing to flush through it */
  }
}

/**
 * The writable layer's directory (`stateDir`) for a boot of `plan`. Changes to the rootfs survive stop and
 * start, but not a new image: a layer written over one release's files is dropped when the instance boots another.
 */
export function writableLayerDir(dir: string, plan: InstancePlan, log: InstanceLogSink): string {
  const marker = path.join(dir, 'image');
  const image = plan.image?.digest ?? 'base';
  let previous: string | undefined;
  try {
    previous = fs.readFileSync(marker, 'utf8');
  } catch {
    /* first boot */
  }
  if (previous !== undefined && previous !== image) {
    fs.rmSync(dir, { recursive: true, force: true });
    log.system('the image changed: the rootfs changes of the previous image were dropped');
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(marker, image);
  return dir;
}

/** The console output of the boot (kernel and harness start-up lines) into the log, so it has no gap before the server. */
export function copyBootLog(machine: Machine, log: InstanceLogSink): void {
  if (!machine.consoleFile) return;
  try {
    const text = readFileTail(machine.consoleFile, MAX_BOOT_LOG_BYTES);
    if (text.length > 0) log.write('stdout', 'boot', text);
  } catch {
    /* no console file: nothing to copy */
  }
}

/** A VM's clock stands still while it is paused or saved: set it from the host's (a sandbox shares the host's). */
export async function setGuestClock(host: () => Promise<MachineHost>, client: ControlClient, log: InstanceLogSink): Promise<void> {
  const { backend } = await host();
  if (backend.capabilities.isolation !== 'vm') return;
  await client.setClock(Date.now()).catch((err: unknown) => log.system(`could not set the guest's clock: ${err instanceof Error ? err.message : String(err)}`));
}

/** Saves the machine's memory to its state dir and ends it, when the backend can; false when it did not. */
export async function suspendMachine(machine: Machine | undefined, client: ControlClient | undefined, host: () => Promise<MachineHost>, log: InstanceLogSink): Promise<boolean> {
  const { backend } = await host();
  if (!machine?.suspend || !backend.capabilities.memorySnapshots) return false;
  // Flushed first: should the snapshot ever be unusable, the disk alone is consistent.
  if (client) await syncGuest(client);
  try {
    await machine.suspend();
    return true;
  } catch (err) {
    log.system(`memory snapshot failed (${err instanceof Error ? err.message : String(err)}): stopping instead`);
    return false;
  }
}
