// The initramfs's /init (busybox sh): load the virtio modules, build the guest's root from the read-only
// rootfs disk plus an upper layer (tmpfs, or the instance's state disk), mount the runtime disk at /.aegis
// and the app's workspace disk at /workspace, bring up the network, and switch_root into the harness.
// Parameters come on the kernel command line (aegis.*), never spliced into this text.

/** The virtio-serial port name the host gives the control channel (`-device virtserialport,name=…`). */
export const CONTROL_PORT_NAME = 'aegis';
/** Printed on the console by a probe boot (aegis.probe=1) just before it powers off. */
export const PROBE_MARKER = 'aegis-probe: booted';

export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "aegis-init: $*"; poweroff -f; }
for m in $(cat /modules/order); do insmod /modules/$m.ko || fail "insmod $m failed"; done
host=aegis loader=ld-linux-x86-64.so.2 probe= upperdisk= workspacedisk= net=
for a in $(cat /proc/cmdline); do
  case "$a" in
    aegis.hostname=*) host=\${a#*=} ;;
    aegis.loader=*) loader=\${a#*=} ;;
    aegis.probe=*) probe=\${a#*=} ;;
    aegis.upper=*) upperdisk=\${a#*=} ;;
    aegis.workspace=*) workspacedisk=\${a#*=} ;;
    aegis.net=*) net=\${a#*=} ;;
  esac
done
if [ -n "$probe" ]; then echo "${PROBE_MARKER}"; poweroff -f; fi
# Drivers bind asynchronously now and then: give each disk a moment to appear.
waitdisk() { i=0; while [ ! -b /dev/$1 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; }
waitdisk vdb
mkdir -p /ro /rw /newroot
mount -t ext4 -o ro /dev/vda /ro || fail "cannot mount the rootfs disk"
if [ -n "$upperdisk" ]; then
  # The instance's own disk: its changes to the rootfs survive this VM.
  waitdisk $upperdisk
  mount -t ext4 /dev/$upperdisk /rw || fail "cannot mount the state disk"
else
  mount -t tmpfs -o mode=755 tmpfs /rw
fi
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/ro,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "cannot mount the overlay"
r=/newroot
# Mount points must be real directories: an image's symlink (/.aegis -> elsewhere) must not redirect them.
for d in proc sys dev tmp run .aegis \${workspacedisk:+workspace}; do
  if [ -L "$r/$d" ] || [ ! -d "$r/$d" ]; then rm -rf "$r/$d"; mkdir "$r/$d"; fi
done
mount -t ext4 -o ro /dev/vdb $r/.aegis || fail "cannot mount the runtime disk"
if [ -n "$workspacedisk" ]; then
  waitdisk $workspacedisk
  mount -t ext4 /dev/$workspacedisk $r/workspace || fail "cannot mount the workspace disk"
fi
mount --move /dev $r/dev
mount --move /proc $r/proc
mount --move /sys $r/sys
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $r/dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs $r/dev/shm
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs $r/tmp
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs $r/run
hostname "$host"
ifconfig lo 127.0.0.1 up
if [ "$net" = user ]; then
  # qemu's user-mode network: fixed addresses, the gateway and DNS forwarder are qemu itself.
  ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up || fail "cannot bring up eth0"
  route add default gw 10.0.2.2
  mkdir -p $r/etc
  rm -f $r/etc/resolv.conf
  echo "nameserver 10.0.2.3" > $r/etc/resolv.conf
fi
dev=
for p in $r/sys/class/virtio-ports/*; do
  [ "$(cat $p/name 2>/dev/null)" = "${CONTROL_PORT_NAME}" ] && dev=/dev/\${p##*/}
done
[ -n "$dev" ] || fail "no virtio-serial port named ${CONTROL_PORT_NAME}"
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root HOSTNAME="$host" \\
  AEGIS_CONTROL_DEVICE="$dev" AEGIS_OWN_CLOCK=1 /bin/switch_root $r \\
  /.aegis/lib/$loader --library-path /.aegis/lib /.aegis/bin/node /.aegis/harness/aegis-harness.mjs
`;
