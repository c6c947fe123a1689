// The shell programs that turn a host process into a sandbox machine: join the cgroups, enter fresh
// namespaces, mount the guest's filesystem, pivot into it, join the machine's user namespace and exec the
// harness as PID 1.
// Paths travel as positional arguments or in the fstab file, never spliced into the script text.
import { GUEST_MOUNT_POINTS } from './guest-mounts.js';

/**
 * Runs on the host: joins the machine's leaf cgroups, then becomes unshare (same pid) so every child is
 * inside. The cgroup namespace roots the guest's view of cgroups at its leaf (see cgroups.ts).
 *
 * The harness does not die with unshare by itself: --kill-child sets a parent-death signal, which the
 * kernel clears when the harness starts with another real uid (see SETUP_SCRIPT). So the harness gets a
 * lifeline instead: fd 8, the read end of a pipe whose one writer (fd 9) stays with unshare. When unshare
 * dies, the harness reads EOF and stops the machine. (Mode 666: the harness, guest root in its user
 * namespace, reopens it through /proc/self/fd; the pipe has no name by the time anything else runs.)
 */
export const OUTER_SCRIPT = `
for f in $AEGIS_CGROUP_PROCS; do echo $$ > "$f"; done
mkfifo -m 666 "$AEGIS_LIFELINE"
exec 9<>"$AEGIS_LIFELINE" 8<"$AEGIS_LIFELINE"
rm -f "$AEGIS_LIFELINE"
unset AEGIS_LIFELINE
exec unshare --pid --fork --kill-child --mount --net --ipc --uts --cgroup --propagation private -- /bin/sh -c "$AEGIS_SETUP" aegis-setup "$@"
`;

/**
 * Runs inside the new namespaces, still on host binaries, as host root. Arguments:
 * 1 root mountpoint  2 lowerdirs (top first, ':'-joined)  3 where the machine's disk is attached (its upper/
 * and work/ hold the rootfs changes, dev-upper/ and dev-work/ those of /dev)  4 fstab of the other mounts
 * (see guest-mounts.ts)  5 hostname  6 loader file name  7 the harness's real uid  8 the pages of System V
 * shared memory the machine may hold  9 guest root's host id (empty: guest root is host root)
 * 10 the directory holding the daemon's fds (/proc/DAEMON/fd)  11 the fd there of the machine's user
 * namespace (empty: none)  then [source target] pairs of detached mounts to attach first (guest-sources.ts)
 */
export const SETUP_SCRIPT = `
set -eu
r=$1 lower=$2 l=$3 fstab=$4 host=$5 ld="/.aegis/lib/$6" harness_uid=$7 shm_pages=$8 ids=$9 fds=\${10} userns=\${11}
shift 11
# The daemon made these mounts detached (the machine's disk, idmapped views of host directories): they
# exist only in this mount namespace once attached, and go when the machine's last process does.
# -c: mount(8) would resolve /proc/PID/fd/N to a path name, which names some other directory.
while [ $# -ge 2 ]; do mount -c --move "$1" "$2"; shift 2; done
mount -t overlay -o "lowerdir=$lower,upperdir=$l/upper,workdir=$l/work" overlay "$r"
# Every mount point must be a real directory of the rootfs. Mount targets resolve on the host side of the
# pivot, so a symlink planted by an image (/.aegis -> /usr/lib/x) would put the mount elsewhere and let the
# image supply the "runtime" that runs as PID 1 before capabilities are dropped. Replace such entries (in
# the machine's upper layer; the image is untouched). Only builtins run unless something needs fixing.
fix=
for d in ${GUEST_MOUNT_POINTS.join(' ')}; do
  if [ -L "$r/$d" ] || [ ! -d "$r/$d" ]; then fix="$fix $d"; fi
done
if [ ! -e "$r/etc" ] && [ ! -L "$r/etc" ]; then fix="$fix etc"; fi
if [ -n "$fix" ]; then
  (cd "$r" && rm -rf -- $fix && mkdir -m 755 -- $fix)
  # Made by host root: give them to guest root.
  if [ -n "$ids" ]; then (cd "$r" && chown "$ids:$ids" -- $fix); fi
fi
mount -a --fstab "$fstab"
echo "$host" > /proc/sys/kernel/hostname
ip link set lo up
# System V shared memory outlives the processes that made it, like tmpfs: bound it in this machine's own
# IPC namespace, so that once the OOM killer has taken the workload (raised to 1000 by the harness) the
# memory is free again and the harness, the last thing it would take, lives on to report it.
echo "$shm_pages" > /proc/sys/kernel/shmall
# The machine's network namespace belongs to the host's user namespace, not to the guest's: guest root
# holds no network capability there (no raw sockets). Let any guest user bind ports below 1024 and open
# ICMP echo sockets (ping without raw sockets), as runtimes do.
echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start
echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range
caps=$AEGIS_GUEST_CAPS
unset AEGIS_SETUP AEGIS_CGROUP_PROCS AEGIS_GUEST_CAPS
# The lifeline's writer stays with unshare alone (see OUTER_SCRIPT).
exec 9>&-
# The guest starts from the harness with only the capabilities a container runtime grants by default: no
# mount, module, raw I/O, ptrace, mknod or open_by_handle_at. no_new_privs: no setuid binary or file
# capability raises them again. The harness's real uid is not root (its effective uid is, with those
# capabilities): execve then marks it non-dumpable, so no workload process without CAP_SYS_PTRACE may
# read its memory, fds or environment, and /proc (hidepid=ptraceable) does not even list it to them.
# Its children run as plain root again. Before anything else, the harness loads the system call filter
# (AEGIS_SECCOMP_FILTER) into itself, and every process of the machine inherits it.
harness() {
  unset OLDPWD PWD
  exec "$@" "$ld" --library-path /.aegis/lib /.aegis/bin/setpriv --ruid "$harness_uid" --bounding-set "$caps" --inh-caps -all --nnp -- \\
    "$ld" --library-path /.aegis/lib /.aegis/bin/node /.aegis/harness/aegis-harness.mjs
}
if [ -z "$userns" ]; then
  cd "$r"
  pivot_root . .
  # The image may have no umount of its own: use the runtime's (-n: it must write no /run/mount/utab there).
  "$ld" --library-path /.aegis/lib /.aegis/bin/umount -n -l .
  cd /
  harness
fi
# With a user namespace: its fd is the daemon's, reached through the host's /proc, which the pivot takes
# away. A working directory kept there outlives the pivot (nothing of it is inherited: nsenter opens the
# namespace by a path relative to it and then changes to the guest's /). The old root goes on /tmp for the
# moment it takes to detach it.
cd "$fds"
pivot_root "$r" "$r/tmp"
"$ld" --library-path /.aegis/lib /.aegis/bin/umount -n -l /tmp
# nsenter joins it as its root (guest root: the first id of the machine's range) with every capability
# there, which setpriv then narrows. The user namespace owns none of the machine's other namespaces, so
# guest root holds no capability over its mounts, network, hostname or IPC, whatever it does.
harness "$ld" --library-path /.aegis/lib /.aegis/bin/nsenter --wd=/ --user="$userns" --
`;

/**
 * The harness's real uid in a sandbox machine: any uid other than 0 makes it non-dumpable (see above).
 * A high one that no image's user has, so that no unprivileged workload shares it (and may signal it).
 * With a user namespace it is the last host id of the machine's range (id-ranges.ts).
 */
export const HARNESS_REAL_UID = 2_147_483_646;

/** The bounding set of every process in a sandbox machine (setpriv syntax). */
export const GUEST_CAPABILITIES = [
  '-all',
  ...['chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'setfcap', 'net_bind_service', 'net_raw', 'sys_chroot', 'audit_write'].map((c) => `+${c}`),
].join(',');

/**
 * Where the harness listens, inside the guest: a small tmpfs of the machine's own. The host reaches it
 * through the harness's /proc/PID/root (see sandbox-machine.ts), so no host directory is guest-writable.
 */
export const GUEST_CONTROL_SOCKET = '/.aegis-control/control.sock';

/** The fd on which the harness finds its lifeline (see OUTER_SCRIPT). */
export const LIFELINE_FD = 8;
