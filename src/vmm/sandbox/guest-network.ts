// A sandbox machine's network: pasta (Debian's `passt` package), attached from the host to the machine's own
// network namespace, which otherwise holds only lo. pasta gives the guest eth0 as qemu's slirp does
// (10.0.2.15/24, gateway 10.0.2.2, DNS at 10.0.2.3) and carries its flows out through ordinary sockets of
// its own on the host. It runs in the machine's egress cgroup (machine-egress.ts), whose BPF filter decides
// where those sockets may connect, and it is killed with that cgroup when the machine is gone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readFileTail } from '../../util/read-file-end.js';
import { which } from '../../util/which.js';
import { egressFilterSupport } from '../network/egress-filter.js';
import type { MachineEgress } from '../network/machine-egress.js';
import { guestInitPid } from './machine-state.js';

/** The guest's view: its address, the gateway (pasta) and the DNS forwarder (pasta again). */
export const GUEST_ADDRESS = '10.0.2.15';
export const GUEST_GATEWAY = '10.0.2.2';
/** What the guest's /etc/resolv.conf names (the harness writes it, see src/harness/guest-network.ts). */
export const GUEST_NAMESERVER = '10.0.2.3';

const POLL_MS = 2;
const LOG_TAIL_BYTES = 2_000;

/**
 * pasta's options, checked against Debian 12's pasta (passt 0.0~git20230309):
 * - `--netns /proc/self/fd/3`: the machine's namespace, opened by the daemon and inherited as fd 3 (pasta
 *   cannot open /proc/PID/ns/net itself once it has shed its capabilities);
 * - `--runas 0`: this pasta drops to `nobody` *before* it joins the namespace and then cannot; as root it
 *   still keeps only CAP_NET_BIND_SERVICE and CAP_SYS_ADMIN, sets no_new_privs, installs its seccomp filter
 *   and moves into an empty mount namespace once set up;
 * - `-t none -u none`: no guest port is published on the host; `-T none -U none`: none of the host's
 *   loopback ports is forwarded into the guest; `--no-map-gw`: the gateway address is not the host's
 *   loopback (the default would map it there);
 * - IPv4 only and no ICMP (ping sockets pass no cgroup connect hook), DHCP/NDP/RA off: pasta sets the
 *   address and route itself (`--config-net`).
 */
export function pastaArgs(): string[] {
  return [
    '--foreground', '--quiet', '--ipv4-only', '--runas', '0',
    '--netns', '/proc/self/fd/3', '--ns-ifname', 'eth0', '--config-net',
    '--address', GUEST_ADDRESS, '--netmask', '24', '--gateway', GUEST_GATEWAY, '--dns-forward', GUEST_NAMESERVER,
    '--tcp-ports', 'none', '--udp-ports', 'none', '--tcp-ns', 'none', '--udp-ns', 'none',
    '--no-map-gw', '--no-icmp', '--no-dhcp', '--no-ndp', '--no-dhcpv6', '--no-ra',
  ];
}

/**
 * Joins the egress cgroup before anything else (a socket belongs to the cgroup its maker was in), then runs
 * pasta. This pasta forwards the guest's DNS to the first nameserver of /etc/resolv.conf (its `--dns` option
 * does not forward): when the machine's resolvers are not the host's (an allow-list's DNS gate), pasta gets
 * a mount namespace of its own whose /etc/resolv.conf names them.
 * Arguments: 1 the cgroup's cgroup.procs  2 that resolv.conf, or empty for the host's  3... pasta and its options.
 */
const PASTA_SCRIPT = `
set -e
procs=$1 resolv=$2
shift 2
# Never unfiltered: without the cgroup, no pasta.
echo $$ > "$procs"
[ -z "$resolv" ] && exec "$@"
exec unshare --mount --propagation private -- /bin/sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$resolv" "$@"
`;

let support: { supported: boolean; detail: string } | undefined;

/** Whether sandbox machines can have a network here; `detail` is one line for `aegis doctor`. */
export function guestNetworkSupport(): { supported: boolean; detail: string } {
  if (support) return support;
  const egress = egressFilterSupport();
  if (!which('pasta')) support = { supported: false, detail: 'no network: pasta not found (apt-get install passt)' };
  else if (!egress.supported) support = { supported: false, detail: `no network: ${egress.detail}` };
  else support = { supported: true, detail: "network: through pasta, internet only, or what the machine's policy lists (host and private addresses blocked by a per-machine cgroup BPF filter)" };
  return support;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The machine ended before its network could be attached: its boot failed, which connect() reports. */
export class MachineGoneError extends Error {
  constructor() {
    super('the machine exited before its network namespace existed');
    this.name = 'MachineGoneError';
  }
}

function netnsInode(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

/** The guest's PID 1, once it runs in a network namespace other than the daemon's. */
async function guestInit(unsharePid: number, deadline: number): Promise<number> {
  const own = netnsInode('/proc/self/ns/net');
  for (;;) {
    const init = guestInitPid(unsharePid);
    const ino = init === undefined ? undefined : netnsInode(`/proc/${init}/ns/net`);
    if (init !== undefined && ino !== undefined && ino !== own) return init;
    if (!fs.existsSync(`/proc/${unsharePid}`)) throw new MachineGoneError();
    if (Date.now() > deadline) throw new Error('the machine made no network namespace in time');
    await sleep(POLL_MS);
  }
}

/** Whether the namespace of `pid` has a default route yet (what pasta sets up last). */
function hasDefaultRoute(pid: number): boolean {
  try {
    return /^\S+\t00000000\t/m.test(fs.readFileSync(`/proc/${pid}/net/route`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Starts pasta for a machine whose unshare process is `unsharePid`, in `egress`'s cgroup; resolves once the
 * guest's eth0 has its address and default route. Runs while the harness boots. On failure pasta is left for
 * `egress.close()` to kill (it is in the cgroup), and the error carries pasta's last words.
 */
export async function attachGuestNetwork(opts: { unsharePid: number; egress: MachineEgress; machineDir: string; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const init = await guestInit(opts.unsharePid, deadline);
  // The filter's resolvers were read from the host's /etc/resolv.conf too, when the daemon started.
  let resolv = '';
  if (!opts.egress.hostResolvers) {
    resolv = path.join(opts.machineDir, 'pasta-resolv.conf');
    fs.writeFileSync(resolv, opts.egress.resolvers.map((r) => `nameserver ${r}\n`).join(''), { mode: 0o644 });
  }
  const log = path.join(opts.machineDir, 'pasta.log');
  let nsFd: number;
  try {
    nsFd = fs.openSync(`/proc/${init}/ns/net`, 'r');
  } catch {
    throw new MachineGoneError(); // its PID 1 ended just now
  }
  const logFd = fs.openSync(log, 'a', 0o600);
  let exited: string | undefined;
  try {
    const child = spawn('/bin/sh', ['-c', PASTA_SCRIPT, 'aegis-network', path.join(opts.egress.cgroup, 'cgroup.procs'), resolv, which('pasta') ?? 'pasta', ...pastaArgs()], {
      // Its own process group, like the machine: a Ctrl+C aimed at the daemon's terminal must not reach it.
      detached: true,
      stdio: ['ignore', logFd, logFd, nsFd],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    child.once('exit', (code, signal) => (exited = signal ?? `exit ${code}`));
    child.once('error', (e) => (exited = e.message));
    child.unref();
  } finally {
    fs.closeSync(nsFd);
    fs.closeSync(logFd);
  }
  for (;;) {
    if (hasDefaultRoute(init)) return;
    const tail = () => readFileTail(log, LOG_TAIL_BYTES).toString('utf8').split('\n').filter((l) => l && !l.startsWith('Failed to send')).slice(-3).join(' | ');
    if (exited) throw new Error(`pasta stopped (${exited}) before the guest had a network${tail() ? `: ${tail()}` : ''}`);
    if (Date.now() > deadline) throw new Error(`pasta set up no network within ${opts.timeoutMs} ms${tail() ? `: ${tail()}` : ''}`);
    await sleep(POLL_MS);
  }
}
