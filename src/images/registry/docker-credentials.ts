// Registry credentials from the Docker CLI's config (`docker login` writes them), so users log in once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Credentials {
  username: string;
  password: string;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker'), 'config.json');
}

/**
 * The stored login for `registry` (host[:port]), or undefined. Only inline `auths` entries are read:
 * credential helpers (`credsStore`, `credHelpers`) run external programs and are not supported.
 */
export function lookupCredentials(registry: string, file = dockerConfigFile()): Credentials | undefined {
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const auths = config.auths ?? {};
  // Docker keys Hub logins by its old v1 URL; other registries by host, sometimes with a scheme.
  const keys = registry === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'] : [registry, `https://${registry}`, `http://${registry}`];
  for (const key of keys) {
    const entry = auths[key] ?? auths[`${key}/`];
    if (!entry) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}
