// The shell programs that turn a host process into a sandbox machine: join the cgroups, enter fresh
// namespaces, mount the guest's filesystem, pivot into it and exec the harness as PID 1.
// Paths travel as positional arguments or in the fstab file, never spliced into the script text.
import { GUEST_MOUNT_POINTS } from './guest-mounts.js';

/** Runs on the host: joins the machine's cgroups, then becomes unshare (same pid) so every child is inside. */
export const OUTER_SCRIPT = `
for f in $AEGIS_CGROUP_PROCS; do echo $$ > "$f"; done
exec unshare --pid --fork --kill-child --mount --net --ipc --uts --propagation private -- /bin/sh -c "$AEGIS_SETUP" aegis-setup "$@"
`;

/**
 * Runs inside the new namespaces, still on host binaries. Arguments:
 * 1 root mountpoint  2 lowerdirs (top first, ':'-joined)  3 upper  4 work  5 fstab of the other mounts
 * (see guest-mounts.ts)  6 hostname  7 loader file name
 */
export const SETUP_SCRIPT = `
set -eu
r=$1
mount -t overlay -o "lowerdir=$2,upperdir=$3,workdir=$4" overlay "$r"
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
cd "$r"
pivot_root . .
# The image may have no umount of its own: use the runtime's.
ld="/.aegis/lib/$7"
"$ld" --library-path /.aegis/lib /.aegis/bin/umount -l .
cd /
caps=$AEGIS_GUEST_CAPS
unset AEGIS_SETUP AEGIS_CGROUP_PROCS AEGIS_GUEST_CAPS OLDPWD PWD
# Keep only the capabilities a container runtime grants by default: no mount, module, raw I/O, ptrace,
# mknod or open_by_handle_at, so guest root cannot undo the pivot or reach host devices.
exec "$ld" --library-path /.aegis/lib /.aegis/bin/setpriv --bounding-set "$caps" --inh-caps -all -- \\
  "$ld" --library-path /.aegis/lib /.aegis/bin/node /.aegis/harness/aegis-harness.mjs
`;

/** The bounding set of every process in a sandbox machine (setpriv syntax). */
export const GUEST_CAPABILITIES = [
  '-all',
  ...['chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'setfcap', 'net_bind_service', 'net_raw', 'sys_chroot', 'audit_write'].map((c) => `+${c}`),
].join(',');

/** Where the harness listens, as seen from inside the guest (the control dir is bind-mounted there). */
export const GUEST_CONTROL_SOCKET = '/.aegis-control/control.sock';
