// The typed context every aegis command receives: streams, environment, paths and the SDK's client of the
// daemon (`aegis`), with its transport for the calls the SDK has no method for (`client`).
import type { BaseContext } from 'clipanion';
import type { AegisPaths } from '../config/paths.js';
import type { Aegis } from '../sdk/aegis.js';
import type { Transport } from '../sdk/transport.js';

export interface AegisContext extends BaseContext {
  paths: AegisPaths;
  aegis: Aegis;
  client: Transport;
}
