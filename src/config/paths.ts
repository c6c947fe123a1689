// Where Aegis keeps its state on disk: everything hangs off AEGIS_HOME (default ~/.aegis).
// Named imports: the CLI's CommonJS entry bundles this, and a default import of a built-in costs a copy of all its exports there.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface AegisPaths {
  home: string;
  socket: string;
  data: string;
  db: string;
  pidFile: string;
  /** flock'd by the running daemon for its whole life: one daemon per AEGIS_HOME. */
  lockFile: string;
  daemonLog: string;
  keyFile: string;
  machines: string;
  logs: string;
  rootfs: string;
  runtime: string;
  images: string;
  /** Per-app persistent directories mounted at /workspace. */
  workspaces: string;
  /** Per-instance state that outlives machines (the writable rootfs layer). */
  instances: string;
  config: string;
  /** Manifest files the CLI parsed before (src/apply/parse-cache.ts). */
  manifestCache: string;
}

export function aegisPaths(env: NodeJS.ProcessEnv = process.env): AegisPaths {
  const home = resolve(env.AEGIS_HOME || join(homedir(), '.aegis'));
  const data = join(home, 'data');
  return {
    home,
    socket: join(home, 'aegisd.sock'),
    data,
    db: join(data, 'aegis.db'),
    pidFile: join(data, 'aegisd.pid'),
    lockFile: join(data, 'aegisd.lock'),
    daemonLog: join(data, 'aegisd.log'),
    keyFile: join(home, 'secret.key'),
    machines: join(data, 'machines'),
    logs: join(data, 'logs'),
    rootfs: join(data, 'rootfs'),
    runtime: join(data, 'runtime'),
    images: join(data, 'images'),
    workspaces: join(data, 'workspaces'),
    instances: join(data, 'instances'),
    config: join(home, 'config.yaml'),
    manifestCache: join(home, 'cache', 'manifests.json'),
  };
}
