// The environment `aegis up` starts aegisd with: only what the daemon reads, never the rest of the caller's
// (tokens and keys in a shell must not become root's, nor be readable by the watched directory's manifests).
import { loadDaemonConfig } from './daemon-config.js';

/** Passed when set: what the daemon and the tools it runs (qemu, apt-get, mkfs) read besides AEGIS_*. */
const DAEMON_VARIABLES = [
  'PATH', // finds qemu, mkfs.ext4, busybox, apt-get…
  'HOME', // ~/.docker/config.json (registry logins), the default $AEGIS_HOME
  'DOCKER_CONFIG', // another directory for the Docker config
  'TMPDIR',
  'LANG',
  'LC_ALL',
  'TZ', // timestamps in aegisd.log
  'NODE_EXTRA_CA_CERTS', // a private CA for registries over HTTPS
  'http_proxy', // apt-get (the qemu guest kernel) behind a proxy
  'https_proxy',
  'no_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
];

/** The daemon's environment: AEGIS_*, the list above, and the variables `watchEnv` lets the watched directory read. */
export function daemonEnvironment(caller: NodeJS.ProcessEnv, configFile: string): NodeJS.ProcessEnv {
  const names = new Set([...DAEMON_VARIABLES, ...watchEnvNames(configFile)]);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(caller)) {
    if (value !== undefined && (name.startsWith('AEGIS_') || names.has(name))) env[name] = value;
  }
  return env;
}

function watchEnvNames(configFile: string): string[] {
  try {
    return loadDaemonConfig(configFile).watchEnv;
  } catch {
    return []; // a bad config.yaml: the daemon refuses to start and says why
  }
}
