// The shell programs that turn a host process into a sandbox machine: join the cgroups, enter fresh
// namespaces, mount the guest's filesystem, pivot into it and exec the harness as PID 1.
// Paths travel as positional arguments, never spliced into the script text.

/** Runs on the host: joins the machine's cgroups, then becomes unshare (same pid) so every child is inside. */
export const OUTER_SCRIPT = `
for f in $AEGIS_CGROUP_PROCS; do echo $$ > "$f"; done
exec unshare --pid --fork --kill-child --mount --net --ipc --uts --propagation private -- /bin/sh -c "$AEGIS_SETUP" aegis-setup "$@"
`;

/**
 * Runs inside the new namespaces, still on host binaries. Arguments:
 * 1 root mountpoint  2 lowerdirs (top first, ':'-joined)  3 upper  4 work  5 runtime dir  6 control dir
 * 7 hostname  8 /dev template  9 workspace dir or ''  10 loader file name
 */
export const SETUP_SCRIPT = `
set -eu
r=$1
mount -t overlay -o "lowerdir=$2,upperdir=$3,workdir=$4" overlay "$r"
mkdir -p "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/run" "$r/var" "$r/.aegis" "$r/.aegis-control" "$r/workspace" "$r/etc"
mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
mount -t tmpfs -o nosuid,mode=755,size=1m tmpfs "$r/dev"
cp -a "$8/." "$r/dev/"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,nosuid,noexec devpts "$r/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$r/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$r/tmp"
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs "$r/run"
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs "$r/var"
mount --bind "$5" "$r/.aegis"
mount -o remount,bind,ro "$r/.aegis"
mount --bind "$6" "$r/.aegis-control"
if [ -n "$9" ]; then mount --bind "$9" "$r/workspace"; fi
echo "$7" > /proc/sys/kernel/hostname
ip link set lo up
cd "$r"
pivot_root . .
umount -l .
cd /
caps=$AEGIS_GUEST_CAPS
unset AEGIS_SETUP AEGIS_CGROUP_PROCS AEGIS_GUEST_CAPS OLDPWD PWD
# Keep only the capabilities a container runtime grants by default: no mount, module, raw I/O, ptrace,
# mknod or open_by_handle_at, so guest root cannot undo the pivot or reach host devices.
ld="/.aegis/lib/\${10}"
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
