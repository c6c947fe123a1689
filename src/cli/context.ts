// The typed context every aegis command receives: streams, environment, paths and the daemon client.
import type { BaseContext } from 'clipanion';
import type { AegisPaths } from '../config/paths.js';
import type { DaemonClient } from './client/daemon-client.js';

export interface AegisContext extends BaseContext {
  paths: AegisPaths;
  client: DaemonClient;
}
