// An API instance over a real SQLite store in a temp AEGIS_HOME, driven through fastify's inject().
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/app.js';
import type { ApiServices } from '../../src/api/services.js';
import { aegisPaths } from '../../src/config/paths.js';
import type { Kind } from '../../src/resources/kinds.js';
import { Store } from '../../src/store/store.js';

export interface ApiFixture {
  api: FastifyInstance;
  store: Store;
  home: string;
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
  };
  const api = buildApi(services);
  await api.ready();
  return {
    api,
    store,
    home,
    written,
    async close() {
      await api.close();
      store.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
