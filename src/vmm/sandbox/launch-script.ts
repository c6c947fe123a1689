// The shell programs that turn a host process into a sandbox machine: join the cgroups, enter fresh
// namespaces, mount the guest's filesystem, pivot into it and exec the harness as PID 1.
// Paths travel as positional arguments or in the fstab file, never spliced into the script text.
import { GUEST_MOUNT_POINTS } from './guest-mounts.js';

/**
 * Runs on the host: joins the machine's leaf cgroups, then becomes unshare (same pid) so every child is
 * inside. The cgroup namespace roots the guest's view of cgroups at its leaf (see cgroups.ts).
 *
 * The harness does not die with unshare by itself: --kill-child sets a parent-death signal, which the
 * kernel clears when the harness starts with another real uid (see SETUP_SCRIPT). So the harness gets a
 * lifeline instead: fd 8, the read end of a pipe whose one writer (fd 9) stays with unshare. When unshare
 * dies, the harness reads EOF and stops the machine.
 */
export const OUTER_SCRIPT = `
for f in $AEGIS_CGROUP_PROCS; do echo $$ > "$f"; done
mkfifo -m 600 "$AEGIS_LIFELINE"
exec 9<>"$AEGIS_LIFELINE" 8<"$AEGIS_LIFELINE"
rm -f "$AEGIS_LIFELINE"
unset AEGIS_LIFELINE
exec unshare --pid --fork --kill-child --mount --net --ipc --uts --cgroup --propagation private -- /bin/sh -c "$AEGIS_SETUP" aegis-setup "$@"
`;

/**
 * Runs inside the new namespaces, still on host binaries. Arguments:
 * 1 root mountpoint  2 lowerdirs (top first, ':'-joined)  3 the machine's writable disk image  4 where it
 * is mounted (its upper/ and work/ hold the rootfs changes, dev-upper/ and dev-work/ those of /dev)
 * 5 fstab of the other mounts (see guest-mounts.ts)  6 hostname  7 loader file name  8 the harness's real uid
 * 9 the pages of System V shared memory the machine may hold
 */
export const SETUP_SCRIPT = `
set -eu
# upper/ and dev-upper/ give the guest's / and /dev their modes: 0755, whatever the daemon's umask.
umask 022
r=$1 l=$4
# Everything the guest writes to its rootfs lands on this disk, whose size bounds it. Mounted in the
# machine's own mount namespace: it goes (and its loop device is freed) when the machine's last process does.
mount -o loop "$3" "$l"
# /dev's writable layer starts empty at every boot; the rootfs changes in upper/ are kept.
if [ -e "$l/dev-upper" ]; then rm -rf -- "$l/dev-upper" "$l/dev-work"; fi
mkdir -p -- "$l/upper" "$l/work" "$l/dev-upper" "$l/dev-work"
mount -t overlay -o "lowerdir=$2,upperdir=$l/upper,workdir=$l/work" overlay "$r"
# Every mount point must be a real directory of the rootfs. Mount targets resolve on the host side of the
# pivot, so a symlink planted by an image (/.aegis -> /usr/lib/x) would put the mount elsewhere and let the
# image supply the "runtime" that runs as PID 1 before capabilities are dropped. Replace such entries (in
# the machine's upper layer; the image is untouched). Only builtins run unless something needs fixing.
fix=
for d in ${GUEST_MOUNT_POINTS.join(' ')}; do
  if [ -L "$r/$d" ] || [ ! -d "$r/$d" ]; then fix="$fix $d"; fi
done
if [ ! -e "$r/etc" ] && [ ! -L "$r/etc" ]; then fix="$fix etc"; fi
if [ -n "$fix" ]; then (cd "$r" && rm -rf -- $fix && mkdir -- $fix); fi
mount -a --fstab "$5"
echo "$6" > /proc/sys/kernel/hostname
ip link set lo up
# System V shared memory outlives the processes that made it, like tmpfs: bound it in this machine's own
# IPC namespace, so that once the OOM killer has taken the workload (raised to 1000 by the harness) the
# memory is free again and the harness, the last thing it would take, lives on to report it.
echo "$9" > /proc/sys/kernel/shmall
cd "$r"
pivot_root . .
# The image may have no umount of its own: use the runtime's.
ld="/.aegis/lib/$7"
"$ld" --library-path /.aegis/lib /.aegis/bin/umount -l .
cd /
caps=$AEGIS_GUEST_CAPS
unset AEGIS_SETUP AEGIS_CGROUP_PROCS AEGIS_GUEST_CAPS OLDPWD PWD
# The lifeline's writer stays with unshare alone (see OUTER_SCRIPT).
exec 9>&-
# Keep only the capabilities a container runtime grants by default: no mount, module, raw I/O, ptrace,
# mknod or open_by_handle_at, so guest root cannot undo the pivot or reach host devices.
# The harness's real uid is not root (its effective uid is, with those capabilities): execve then marks it
# non-dumpable, so no workload process without CAP_SYS_PTRACE may read its memory, fds or environment,
# and /proc (hidepid=ptraceable) does not even list it to them. Its children run as plain root again.
exec "$ld" --library-path /.aegis/lib /.aegis/bin/setpriv --ruid "$8" --bounding-set "$caps" --inh-caps -all -- \\
  "$ld" --library-path /.aegis/lib /.aegis/bin/node /.aegis/harness/aegis-harness.mjs
`;

/**
 * The harness's real uid in a sandbox machine: any uid other than 0 makes it non-dumpable (see above).
 * A high one that no image's user has, so that no unprivileged workload shares it (and may signal it).
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
