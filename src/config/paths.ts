// Where Aegis keeps its state on disk: everything hangs off AEGIS_HOME (default ~/.aegis).
import os from 'node:os';
import path from 'node:path';

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
  const home = path.resolve(env.AEGIS_HOME || path.join(os.homedir(), '.aegis'));
  const data = path.join(home, 'data');
  return {
    home,
    socket: path.join(home, 'aegisd.sock'),
    data,
    db: path.join(data, 'aegis.db'),
    pidFile: path.join(data, 'aegisd.pid'),
    lockFile: path.join(data, 'aegisd.lock'),
    daemonLog: path.join(data, 'aegisd.log'),
    keyFile: path.join(home, 'secret.key'),
    machines: path.join(data, 'machines'),
    logs: path.join(data, 'logs'),
    rootfs: path.join(data, 'rootfs'),
    runtime: path.join(data, 'runtime'),
    images: path.join(data, 'images'),
    workspaces: path.join(data, 'workspaces'),
    instances: path.join(data, 'instances'),
    config: path.join(home, 'config.yaml'),
    manifestCache: path.join(home, 'cache', 'manifests.json'),
  };
}
