// What qemu may do once the guest runs: a seccomp filter (-sandbox), and, when the daemon runs as root, a
// chroot into an empty per-machine directory (-chroot) and an unprivileged uid (-runas). qemu opens
// everything it needs as root at start-up (kernel, initramfs, disks, /dev/kvm, the console file, its
// listening sockets), then chroots and drops to the uid before the guest's first instruction. A guest that
// broke into qemu finds no root, no files, and no fork or exec.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface QemuUser {
  uid: number;
  gid: number;
}

/** An account of this name in /etc/passwd gives qemu its ids; without one qemu runs as DEFAULT_QEMU_ID. */
export const QEMU_ACCOUNT = 'aegis-qemu';
/**
 * uid and gid without a passwd entry: 65520-65533 is what neither Debian (which reserves 65000-65533) nor
 * systemd (dynamic users end at 65519) hands out, so no other process shares it.
 */
export const DEFAULT_QEMU_ID = 65530;

/** The ids qemu drops to, or undefined when the daemon is not root (qemu then runs as the daemon's user). */
export function qemuUser(passwd = '/etc/passwd'): QemuUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let text = '';
  try {
    text = fs.readFileSync(passwd, 'utf8');
  } catch {
    /* no passwd file: the default ids */
  }
  const entry = text.split('\n').find((line) => line.startsWith(`${QEMU_ACCOUNT}:`));
  const [, , uid, gid] = entry?.split(':') ?? [];
  if (entry && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? '') && Number(uid) !== 0) return { uid: Number(uid), gid: Number(gid) };
  return { uid: DEFAULT_QEMU_ID, gid: DEFAULT_QEMU_ID };
}

/**
 * qemu's -sandbox: no obsolete syscalls, no fork/exec (spawn), no scheduler or affinity changes. set*uid
 * stays allowed only for -runas, whose setuid runs after the filter is installed; once dropped, qemu has no
 * capabilities left and no_new_privs set, so those calls can no longer raise anything.
 */
export function seccompOption(dropsPrivileges: boolean): string {
  return `on,obsolete=deny,elevateprivileges=${dropsPrivileges ? 'allow' : 'deny'},spawn=deny,resourcecontrol=deny`;
}

export interface Confinement {
  /** The directory qemu chroots into (see makeJail); only with `runAs`. */
  jail?: string;
  runAs?: QemuUser;
}

export function confinementArgs(c: Confinement): string[] {
  const args = ['-sandbox', seccompOption(c.runAs !== undefined)];
  if (c.runAs && c.jail) args.push('-chroot', c.jail);
  if (c.runAs) args.push('-runas', `${c.runAs.uid}:${c.runAs.gid}`);
  return args;
}

/** The file slirp reads the host's DNS server from; inside the chroot it is ours to write. */
const RESOLV_CONF = 'etc/resolv.conf';

/**
 * The chroot of one machine, inside its (0700) machine dir: root's, searchable by qemu's group only, holding
 * only a resolv.conf naming `resolvers` (what slirp forwards the guest's DNS to, and exactly what the egress
 * filter lets through on port 53) and, while a snapshot is saved, the socket qemu writes it to.
 */
export function makeJail(jail: string, runAs: QemuUser | undefined, resolvers: string[]): void {
  fs.mkdirSync(path.join(jail, path.dirname(RESOLV_CONF)), { recursive: true, mode: 0o700 });
  if (runAs) {
    fs.chownSync(jail, 0, runAs.gid);
    fs.chmodSync(jail, 0o710);
    fs.chmodSync(path.join(jail, path.dirname(RESOLV_CONF)), 0o755);
  }
  fs.writeFileSync(path.join(jail, RESOLV_CONF), resolvers.map((r) => `nameserver ${r}\n`).join(''), { mode: 0o644 });
}

/** How qemu names a path inside its jail: from the chroot's root when it is chrooted, else as the host does. */
export function pathForQemu(c: Confinement, hostPath: string): string {
  return c.runAs && c.jail ? `/${path.relative(c.jail, hostPath)}` : hostPath;
}

export interface ConfinementProbe {
  ok: boolean;
  /** "seccomp, chroot, uid 65530" or why qemu cannot confine itself. */
  detail: string;
}

const PROBE_TIMEOUT_MS = 10_000;
const probes = new Map<string, Promise<ConfinementProbe>>();

/**
 * Starts qemu once with no machine and the same confinement machines get, and reads back from
 * /proc/PID/status that the seccomp filter is on and the uid dropped: a qemu built without seccomp (or too
 * new for -chroot/-runas) fails here, once, instead of at every boot. Cached per binary for the process.
 */
export function probeConfinement(qemuBin: string): Promise<ConfinementProbe> {
  let probe = probes.get(qemuBin);
  if (!probe) probes.set(qemuBin, (probe = runProbe(qemuBin)));
  return probe;
}

async function runProbe(qemuBin: string): Promise<ConfinementProbe> {
  const runAs = qemuUser();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-qemu-confine-'));
  const jail = path.join(tmp, 'jail');
  try {
    makeJail(jail, runAs, []);
    const args = ['-M', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-S', ...confinementArgs({ jail, runAs }), '-qmp', 'stdio'];
    const child = spawn(qemuBin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (e) => {
        stderr += e.message;
        resolve();
      });
    });
    // The greeting comes as soon as the monitor exists; the reply to a command only from the main loop,
    // which runs after the chroot and the uid change.
    const answered = new Promise<boolean>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('"return"')) resolve(true);
      });
      void exited.then(() => resolve(false));
    });
    child.stdin.on('error', () => undefined); // a qemu that died at once: judged by its stderr below
    child.stdin.write('{"execute":"qmp_capabilities"}\n');
    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([answered, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), PROBE_TIMEOUT_MS)))]);
    clearTimeout(timer);
    let status = '';
    if (ready) {
      try {
        status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      } catch {
        /* gone already: judged below */
      }
    }
    child.kill('SIGKILL');
    await exited;
    if (!ready) return { ok: false, detail: `qemu cannot confine itself (-sandbox${runAs ? ', -chroot, -runas' : ''}): ${stderr.trim().split('\n').pop() || 'no answer'}` };
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    if (field('Seccomp') !== '2') return { ok: false, detail: `qemu started but without its seccomp filter (Seccomp: ${field('Seccomp') ?? '?'})` };
    if (runAs && field('Uid') !== String(runAs.uid)) return { ok: false, detail: `qemu started but kept uid ${field('Uid') ?? '?'}` };
    return { ok: true, detail: runAs ? `seccomp, chroot, uid ${runAs.uid}` : `seccomp, uid ${process.getuid?.() ?? '?'}` };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
