// The guest half of a sandbox machine's network (src/vmm/sandbox/guest-network.ts): slirp4netns sets up eth0
// from the host, and the harness points the guest's resolver at slirp's DNS forwarder. Done from inside, before
// any workload runs, so that the path resolves in the guest's own filesystem, never the host's.
import fs from 'node:fs';
import { log } from './log.js';

const RESOLV_CONF = '/etc/resolv.conf';

/**
 * Replaces the image's /etc/resolv.conf (or its symlink, e.g. into systemd's runtime dir) with one naming
 * `nameserver`. Created with O_EXCL, so nothing the image planted at that path is followed. A failure is
 * logged: the machine still runs, only name lookups fail.
 */
export function writeResolvConf(nameserver: string, file = RESOLV_CONF): void {
  try {
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, `nameserver ${nameserver}\n`, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    log(`cannot write ${file}: ${(err as Error).message}`);
  }
}
