// aegisd's composition root: store, backend, lifecycle, router and controllers, then the API over all of
// them, wired in that order (nothing is bound late), with an orderly shutdown.
import fs from 'node:fs';
import path from 'node:path';
import { DirectoryWatcher } from '../apply/directory-watcher.js';
import type { FastifyInstance } from 'fastify';
import { buildApi, createApiServer } from '../api/app.js';
import type { ApiServices } from '../api/services.js';
import type { AegisPaths } from '../config/paths.js';
import { loadDaemonConfig } from '../config/daemon-config.js';
import { AEGIS_VERSION } from '../config/version.js';
import { ImageStore } from '../images/image-store.js';
import { daemonLogStream } from '../logs/daemon-log.js';
import { EventRecorder } from '../store/event-recorder.js';
import { parseDuration } from '../resources/duration.js';
import { ConnectionLimiter } from '../router/connection-limiter.js';
import { startRouter, type RunningRouter } from '../router/router.js';
import { ControllerManager } from '../reconciler/manager.js';
import { Store } from '../store/store.js';
import { removePid, writePid } from './pid-file.js';
import { AdmittingBackend } from '../vmm/admitting-backend.js';
import type { MachineHost } from '../vmm/machine-host.js';
import { selectBackend } from '../vmm/select-backend.js';
import { registerControllers } from './controllers.js';
import { startLifecycle } from '../lifecycle/lifecycle.js';

export interface Daemon {
  api: FastifyInstance;
  stop(): Promise<void>;
}

/** How long shutdown waits for in-flight reconciles before closing the store anyway. */
const STOP_DEADLINE_MS = 5_000;
/** One booted machine waiting for the next `aegis run` takes the boot off its critical path. */
const DEFAULT_WARM_MACHINES = 1;

export async function startDaemon(paths: AegisPaths, env: NodeJS.ProcessEnv = process.env): Promise<Daemon> {
  fs.mkdirSync(paths.data, { recursive: true, mode: 0o700 });
  fs.chmodSync(paths.home, 0o700);
  const config = loadDaemonConfig(paths.config);
  // The watched directory: `aegis up --watch DIR` (AEGIS_WATCH) or `watch:` in config.yaml.
  const watchSetting = env.AEGIS_WATCH || config.watch;
  const watchDir = watchSetting ? path.resolve(paths.home, watchSetting) : undefined;
  const store = Store.open(paths.db, paths.keyFile);
  // Subscribed before anything writes, so every resource's history starts with its creation.
  const events = new EventRecorder(store);
  const images = new ImageStore(paths.images, {
    insecureRegistries: config.images.insecureRegistries,
    layerLimits: { maxBytes: config.limits.layer, maxEntries: config.limits.layerEntries },
    ...(watchDir ? { untrustedDirs: [watchDir] } : {}),
  });
  const manager = new ControllerManager();
  const selection = await selectBackend(paths, env, { diskMiB: Math.floor(config.limits.machineDisk / 1024 / 1024), consoleBytes: config.limits.console }, config.sandbox);

  // The daemon's logger is the API server's; its routes are registered last, once what they serve exists.
  const api = createApiServer({
    logger: { level: env.AEGIS_LOG_LEVEL ?? 'info', stream: daemonLogStream(paths.daemonLog, config.limits.daemonLog) },
  });
  // One cap on client connections for the router and every port listener: they share this process's fds.
  const limiter = new ConnectionLimiter(
    { total: config.router.maxConnections, perClient: config.router.maxConnectionsPerClient },
    (message) => api.log.warn(`router: ${message}`),
  );
  // Every machine the daemon starts or adopts is counted against the host's memory (limits.memoryOvercommit).
  let admitting: MachineHost | undefined;
  const host = async (): Promise<MachineHost> => {
    const prepared = await selection.host();
    return (admitting ??= { ...prepared, backend: new AdmittingBackend(prepared.backend, config.limits.memoryOvercommit) });
  };
  const r = config.router;
  // Built before the router (which routes to its instances) and the controllers (which drive it).
  const lifecycle = startLifecycle({
    store,
    images,
    host,
    paths,
    taskLogBytes: config.limits.taskLog,
    idleDefaults: { pauseAfterMs: parseDuration(config.idle.pauseAfter), stopAfterMs: parseDuration(config.idle.stopAfter) },
    ports: { host: r.host, wakeTimeoutMs: parseDuration(r.wakeTimeout), limiter },
    warmMachines: env.AEGIS_WARM_MACHINES === undefined ? DEFAULT_WARM_MACHINES : Number(env.AEGIS_WARM_MACHINES) || 0,
  });

  // A router that cannot bind (port taken) leaves the daemon usable for everything else; status says so.
  let router: RunningRouter | undefined;
  try {
    router = await startRouter(lifecycle.supervisor.directory, {
      host: r.host,
      port: r.port,
      wakeTimeoutMs: parseDuration(r.wakeTimeout),
      hosts: r.hosts,
      headerTimeoutMs: parseDuration(r.headerTimeout),
      requestTimeoutMs: parseDuration(r.requestTimeout),
      idleTimeoutMs: parseDuration(r.idleTimeout),
      limiter,
    });
  } catch (err) {
    api.log.error({ err }, `router cannot listen on ${r.host}:${r.port}`);
  }
  const routerUrl = router?.url;

  const controllers = registerControllers({
    store,
    manager,
    paths,
    images,
    lifecycle,
    routerUrl,
    onError: (kind, key, err, terminal) => api.log.error({ kind, key, terminal, err }, 'reconcile failed'),
  });
  // Store writes from any source (API, apply, the watched directory, controllers) wake the controllers that
  // watch what was written: the one trigger path from the store (routes only write).
  store.onChange((e) => manager.written(e));
  const watcher = watchDir
    ? new DirectoryWatcher(watchDir, store, {
        intervalMs: parseDuration(config.watchInterval),
        log: (m) => api.log.info(m),
        env: { allowed: config.watchEnv, setting: `watchEnv in ${paths.config}` },
      })
    : undefined;

  const services: ApiServices = {
    store,
    paths,
    version: AEGIS_VERSION,
    startedAt: new Date(),
    backend: selection.report,
    lifecycle: { instances: lifecycle.supervisor, taskLogs: lifecycle.taskLogs, instanceLogs: lifecycle.instanceLogs, taskMachines: lifecycle.taskMachines },
    images,
    events,
    ...(routerUrl ? { routerUrl } : {}),
    ...(watcher ? { watchStatus: () => watcher.status } : {}),
  };
  buildApi(services, api);
  fs.rmSync(paths.socket, { force: true });
  await api.listen({ path: paths.socket });
  fs.chmodSync(paths.socket, 0o600);
  manager.start();
  watcher?.start();
  writePid(paths.pidFile, process.pid);
  api.log.info({ backend: selection.report.name, pid: process.pid }, 'aegisd ready');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      api.log.info('aegisd stopping');
      // Machine processes are unref'd children: once the listener closes, nothing else would keep the
      // event loop alive while we wait for them, and Node would exit half-way through shutdown.
      const keepAlive = setInterval(() => undefined, 1_000);
      try {
        // Close the listener first (new requests are refused), then let reconciles finish, then the store.
        await api.close();
        await watcher?.close();
        await router?.close();
        await manager.stop(STOP_DEADLINE_MS);
        await controllers.close();
        await lifecycle.close();
        events.close();
        store.close();
        fs.rmSync(paths.socket, { force: true });
        removePid(paths.pidFile, process.pid);
        api.log.info('aegisd stopped');
      } finally {
        clearInterval(keepAlive);
      }
    })());
  return { api, stop };
}
