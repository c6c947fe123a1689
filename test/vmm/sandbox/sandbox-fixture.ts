// A temp AEGIS_HOME with the guest runtime, the base rootfs and a SandboxBackend, plus booted machines
// that are stopped and destroyed after each test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { aegisPaths, type AegisPaths } from '../../../src/config/paths.js';
import type { MachineSpec } from '../../../src/vmm/backend.js';
import { ControlClient } from '../../../src/vmm/channel/control-client.js';
import { ensureBaseRootfs } from '../../../src/vmm/rootfs/base-rootfs.js';
import { provisionRuntime } from '../../../src/vmm/runtime/node-runtime.js';
import { SandboxBackend } from '../../../src/vmm/sandbox/sandbox-backend.js';
import type { SandboxMachine } from '../../../src/vmm/sandbox/sandbox-machine.js';
import { ROOT } from '../../support/temp-home.js';
import { afterAll, afterEach, beforeAll } from 'vitest';

export const HARNESS = path.join(ROOT, 'dist', 'harness', 'aegis-harness.mjs');

export interface Booted {
  machine: SandboxMachine;
  client: ControlClient;
  id: string;
}

export interface SandboxFixture {
  home: string;
  paths: AegisPaths;
  runtimeDir: string;
  baseRootfs: string;
  backend: SandboxBackend;
  /** Starts a machine on the base rootfs (plus `extra`), connects, and registers it for cleanup. */
  boot(extra?: Partial<MachineSpec>): Promise<Booted>;
  /** Stops and destroys every machine booted since the last call. */
  cleanupMachines(): Promise<void>;
  dispose(): Promise<void>;
}

export async function sandboxFixture(): Promise<SandboxFixture> {
  // Short path: the control socket nests under AEGIS_HOME and unix socket paths stop at 108 bytes.
  // The space makes every machine prove that paths reach mount(8) and the fstab quoted and escaped.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae sbx-'));
  const paths = aegisPaths({ AEGIS_HOME: home });
  const runtimeDir = await provisionRuntime(paths, HARNESS);
  const baseRootfs = await ensureBaseRootfs(paths);
  const backend = new SandboxBackend({ paths, runtimeDir });
  const live: Booted[] = [];
  let n = 0;
  const fixture: SandboxFixture = {
    home,
    paths,
    runtimeDir,
    baseRootfs,
    backend,
    async boot(extra = {}) {
      const id = `mach-fx${process.pid}-${n++}`;
      const machine = await backend.start({ id, hostname: id, rootfsLayers: [baseRootfs], memoryMiB: 128, vcpus: 1, ...extra });
      const booted = { machine, id } as Booted;
      live.push(booted);
      booted.client = await ControlClient.connect(await machine.connect(20_000), { timeoutMs: 20_000 });
      return booted;
    },
    async cleanupMachines() {
      for (const b of live.splice(0)) {
        await b.client?.close().catch(() => undefined);
        await b.machine.stop(0);
        await backend.destroy(b.id);
      }
    },
    async dispose() {
      await fixture.cleanupMachines();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** Runs a command in the guest (as root, or as `opts.user`) and collects its output. */
export async function guestRun(client: ControlClient, argv: string[], opts: { user?: string } = {}): Promise<{ code: number | null; out: string; err: string }> {
  const h = client.exec({ argv, env: {}, stdin: false, ...opts });
  let out = '';
  let err = '';
  h.stdout.on('data', (b: Buffer) => (out += b));
  h.stderr.on('data', (b: Buffer) => (err += b));
  const exit = await h.exit;
  return { code: exit.code, out, err };
}

/**
 * A fixture for the enclosing describe block: made before its tests, its machines stopped after each test,
 * removed after all. The object stands for the fixture beforeAll makes (it forwards to it), so a test body
 * uses it like the fixture itself.
 */
export function useSandboxFixture(): SandboxFixture {
  let current: SandboxFixture | undefined;
  beforeAll(async () => {
    current = await sandboxFixture();
  }, 120_000);
  afterEach(() => current?.cleanupMachines());
  afterAll(() => current?.dispose());
  return new Proxy({} as SandboxFixture, {
    get(_target, key) {
      if (!current) throw new Error('the sandbox fixture is used before its beforeAll made it');
      const value = Reflect.get(current, key);
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}
