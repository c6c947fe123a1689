// An API instance over a real SQLite store, image cache and logs in a temp AEGIS_HOME, driven through
// fastify's inject(); the running instances are a fake lifecycle (no machines), which records what the API
// asked of it and answers exec with what the test scripts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/app.js';
import type { ApiServices, RunningInstances } from '../../src/api/services.js';
import { aegisPaths } from '../../src/config/paths.js';
import { conflict } from '../../src/errors/codes.js';
import { ImageStore } from '../../src/images/image-store.js';
import type { InstanceExec, InstanceExecRequest } from '../../src/lifecycle/instance-exec.js';
import { instanceFilesTarget } from '../../src/lifecycle/instance-files.js';
import { MachineFiles } from '../../src/lifecycle/machine-files.js';
import { TaskMachines } from '../../src/lifecycle/task-machines.js';
import { InstanceLogs } from '../../src/logs/instance-log.js';
import { TaskLogs } from '../../src/logs/task-logs.js';
import type { Kind } from '../../src/resources/kinds.js';
import { EventRecorder } from '../../src/store/event-recorder.js';
import { Store } from '../../src/store/store.js';

/** Instances "running" by uid, what was asked of them, and the output an exec in them gives. */
export class FakeInstances implements RunningInstances {
  readonly running = new Set<string>();
  readonly touched: string[] = [];
  readonly execs: { uid: string; req: Omit<InstanceExecRequest, 'stdin'>; stdin?: string }[] = [];
  /** NDJSON lines an exec answers with (the last one should be the exit). */
  output: unknown[] = [{ ts: '2026-01-01T00:00:00.000Z', stream: 'system', exec_id: 'exec-1', exit: { code: 0, signal: null } }];

  touch(uid: string): boolean {
    this.touched.push(uid);
    return this.running.has(uid);
  }

  async exec(uid: string, req: InstanceExecRequest): Promise<InstanceExec> {
    if (!this.running.has(uid)) throw conflict(`instance ${uid} is stopped; it starts again on its next connection (or: aegis app serve)`);
    const { stdin, ...rest } = req;
    const record: (typeof this.execs)[number] = { uid, req: rest };
    if (stdin) {
      const chunks: Buffer[] = [];
      for await (const c of stdin) chunks.push(c as Buffer);
      record.stdin = Buffer.concat(chunks).toString();
    }
    this.execs.push(record);
    const output = new PassThrough();
    output.end(this.output.map((l) => JSON.stringify(l) + '\n').join(''));
    return { output, cancel: () => undefined };
  }

  /** No machines here: file operations find every instance stopped. */
  files(_uid: string, label: string): MachineFiles {
    return new MachineFiles(instanceFilesTarget(undefined, label));
  }
}

export interface ApiFixture {
  api: FastifyInstance;
  store: Store;
  home: string;
  services: ApiServices;
  instances: FakeInstances;
  /** Every store write the requests made, as [kind, name]: what wakes the controllers (routes only write). */
  written: [Kind, string][];
  close(): Promise<void>;
}

export async function apiFixture(): Promise<ApiFixture> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-api-'));
  const paths = aegisPaths({ AEGIS_HOME: home });
  const store = Store.open(paths.db, paths.keyFile);
  const written: [Kind, string][] = [];
  store.onChange((e) => written.push([e.kind, e.name]));
  const instances = new FakeInstances();
  const instanceLogs = new InstanceLogs(paths.logs);
  const events = new EventRecorder(store);
  const services: ApiServices = {
    store,
    paths,
    version: 'test',
    startedAt: new Date(),
    backend: {
      name: 'sandbox',
      reason: 'test',
      capabilities: { pauseResume: true, memorySnapshots: false, bootFromDiskLayers: false, workspaceMounts: true, isolation: 'namespace' },
      probes: {
        sandbox: { available: true, detail: 'test' },
        qemu: { available: false, detail: 'test' },
        libkrun: { available: false, detail: 'test' },
      },
    },
    lifecycle: { instances, taskLogs: new TaskLogs(paths.logs, 1024 * 1024), instanceLogs, taskMachines: new TaskMachines() },
    images: new ImageStore(paths.images),
    events,
    routerUrl: 'http://127.0.0.1:8099',
  };
  const api = buildApi(services);
  await api.ready();
  return {
    api,
    store,
    home,
    services,
    instances,
    written,
    async close() {
      await api.close();
      instanceLogs.close();
      events.close();
      store.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
