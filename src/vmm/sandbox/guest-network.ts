// A sandbox machine's network: slirp4netns (libslirp), attached from the host to the machine's own network
// namespace, which otherwise holds only lo. It gives the guest eth0 (10.0.2.100/24, gateway 10.0.2.2, DNS at
// 10.0.2.3) through a tap device and carries its flows out through ordinary sockets of its own on the host.
// It runs in the machine's egress cgroup (machine-egress.ts), whose BPF filter decides where those sockets may
// connect and that they are TCP or UDP only, and it is killed with that cgroup when the machine is gone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readFileTail } from '../../util/read-file-end.js';
import { which } from '../../util/which.js';
import { egressFilterSupport } from '../network/egress-filter.js';
import type { MachineEgress } from '../network/machine-egress.js';
import { guestInitPid } from './machine-state.js';

/** The guest's view: its address (slirp4netns's default, which `--configure` sets), the gateway (slirp) and the DNS forwarder (slirp again). */
export const GUEST_ADDRESS = '10.0.2.100';
export const GUEST_GATEWAY = '10.0.2.2';
/** What the guest's /etc/resolv.conf names (the harness writes it, see src/harness/guest-network.ts). */
export const GUEST_NAMESERVER = '10.0.2.3';

const POLL_MS = 2;
const LOG_TAIL_BYTES = 2_000;
/** The namespace's fd and the readiness pipe's, as the helper inherits them. */
const NETNS_FD = 3;
const READY_FD = 4;

/**
 * slirp4netns's options, checked against Debian 12's slirp4netns 1.2.0 (libslirp 4.7.0):
 * - `--netns-type=path /proc/self/fd/3`: the machine's namespace, opened by the daemon and inherited;
 * - `--configure`: it sets eth0's address, MTU and default route itself (10.0.2.0/24 by default);
 * - `--disable-host-loopback`: the gateway (10.0.2.2) is not the host's loopback (the default would map it
 *   there); no API socket and no port forwarding: nothing of the guest is published on the host;
 * - `--enable-sandbox`: before it serves any traffic, a mount namespace of its own with only /etc and /run
 *   (read-only, for resolv.conf), no_new_privs, and of the root's capabilities CAP_NET_BIND_SERVICE only (no
 *   CAP_NET_RAW: no raw sockets for the guest's pings); `--enable-seccomp`: no exec, ptrace, mount, setns...;
 * - `--ready-fd`: written once all of that is in place and it serves the tap;
 * - IPv4 only (no `--enable-ipv6`). The guest's pings: libslirp sends them through an ICMP echo socket, a raw
 *   socket, or a UDP datagram to port 7, in that order; the egress cgroup refuses the first two
 *   (egress-bpf.ts, buildSocketProgram) and filters the third like any UDP.
 */
export function slirpArgs(): string[] {
  return [
    '--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp',
    `--ready-fd=${READY_FD}`, '--netns-type=path', `/proc/self/fd/${NETNS_FD}`, 'eth0',
  ];
}

/**
 * Joins the egress cgroup before anything else (a socket belongs to the cgroup its maker was in), then runs
 * slirp4netns. libslirp forwards the guest's DNS to the first nameserver of /etc/resolv.conf: when the
 * machine's resolvers are not the host's (an allow-list's DNS gate), the helper gets a mount namespace of its
 * own whose /etc/resolv.conf names them (its sandbox keeps /etc, submounts included).
 * Arguments: 1 the cgroup's cgroup.procs  2 that resolv.conf, or empty for the host's  3... slirp4netns and its options.
 */
const SLIRP_SCRIPT = `
set -e
procs=$1 resolv=$2
shift 2
# Never unfiltered: without the cgroup, no network helper.
echo $$ > "$procs"
[ -z "$resolv" ] && exec "$@"
exec unshare --mount --propagation private -- /bin/sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$resolv" "$@"
`;

let support: { supported: boolean; detail: string } | undefined;

/** Whether sandbox machines can have a network here; `detail` is one line for `aegis doctor`. */
export function guestNetworkSupport(): { supported: boolean; detail: string } {
  if (support) return support;
  const egress = egressFilterSupport();
  if (!which('slirp4netns')) support = { supported: false, detail: 'no network: slirp4netns not found (apt-get install slirp4netns)' };
  else if (!fs.existsSync('/dev/net/tun')) support = { supported: false, detail: 'no network: /dev/net/tun missing (slirp4netns needs a tap device)' };
  else if (!egress.supported) support = { supported: false, detail: `no network: ${egress.detail}` };
  else support = { supported: true, detail: "network: through slirp4netns, internet only, or what the machine's policy lists (host and private addresses blocked by a per-machine cgroup BPF filter)" };
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

/**
 * Starts slirp4netns for a machine whose unshare process is `unsharePid`, in `egress`'s cgroup; resolves once
 * it reports the guest's eth0 configured and itself confined. Runs while the harness boots. On failure the
 * helper is left for `egress.close()` to kill (it is in the cgroup), and the error carries its last words.
 */
export async function attachGuestNetwork(opts: { unsharePid: number; egress: MachineEgress; machineDir: string; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const init = await guestInit(opts.unsharePid, deadline);
  // The filter's resolvers were read from the host's /etc/resolv.conf too, when the daemon started.
  let resolv = '';
  if (!opts.egress.hostResolvers) {
    resolv = path.join(opts.machineDir, 'network-resolv.conf');
    fs.writeFileSync(resolv, opts.egress.resolvers.map((r) => `nameserver ${r}\n`).join(''), { mode: 0o644 });
  }
  const log = path.join(opts.machineDir, 'network.log');
  let nsFd: number;
  try {
    nsFd = fs.openSync(`/proc/${init}/ns/net`, 'r');
  } catch {
    throw new MachineGoneError(); // its PID 1 ended just now
  }
  const logFd = fs.openSync(log, 'a', 0o600);
  let exited: string | undefined;
  let ready = false;
  let readyPipe: NodeJS.ReadableStream | undefined;
  try {
    const child = spawn('/bin/sh', ['-c', SLIRP_SCRIPT, 'aegis-network', path.join(opts.egress.cgroup, 'cgroup.procs'), resolv, which('slirp4netns') ?? 'slirp4netns', ...slirpArgs()], {
      // Its own process group, like the machine: a Ctrl+C aimed at the daemon's terminal must not reach it.
      detached: true,
      stdio: ['ignore', logFd, logFd, nsFd, 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    child.once('exit', (code, signal) => (exited = signal ?? `exit ${code}`));
    child.once('error', (e) => (exited = e.message));
    child.unref();
    readyPipe = child.stdio[READY_FD] as NodeJS.ReadableStream | undefined;
    readyPipe?.once('data', () => (ready = true));
    readyPipe?.on('error', () => undefined);
  } finally {
    fs.closeSync(nsFd);
    fs.closeSync(logFd);
  }
  try {
    for (;;) {
      if (ready) return;
      const tail = () => readFileTail(log, LOG_TAIL_BYTES).toString('utf8').split('\n').filter((l) => l && !l.startsWith('WARNING: Support for seccomp')).slice(-3).join(' | ');
      if (exited) throw new Error(`slirp4netns stopped (${exited}) before the guest had a network${tail() ? `: ${tail()}` : ''}`);
      if (Date.now() > deadline) throw new Error(`slirp4netns set up no network within ${opts.timeoutMs} ms${tail() ? `: ${tail()}` : ''}`);
      await sleep(POLL_MS);
    }
  } finally {
    // The daemon's end of the pipe: nothing more comes through it, and it must not keep the daemon alive.
    (readyPipe as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined)?.destroy?.();
  }
}
