#!/usr/bin/env bash
# Sets up aegis on a fresh Debian/Ubuntu machine: system packages, npm dependencies, build. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages aegis uses at run time and in its tests.
#   busybox-static: the base rootfs      util-linux, mount: unshare, setpriv, pivot_root, mount -a
#   iproute2: brings up lo in a machine  e2fsprogs: mkfs.ext4 for disk images
#   attr: overlayfs opaque-dir xattrs    zstd: zstd layer fixtures in tests
#   docker-registry: a real registry for image tests
#   qemu-system-x86: the qemu backend's VMM  qemu-utils: qemu-img for disk images
#   libseccomp2: compiles the sandbox's system call filter (loaded through koffi, no -dev package needed)
#   slirp4netns: the sandbox machines' user-mode network (without it they have lo only)
#   chromium: the headless browser the dashboard's tests drive (playwright-core, test/ui)
#   wrk: the load generator of bench/router.mjs
PACKAGES=(busybox-static util-linux mount iproute2 e2fsprogs attr zstd docker-registry qemu-system-x86 qemu-utils libseccomp2 slirp4netns chromium wrk)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm dependencies from the lock file (optional deps included: koffi's binary lives in one).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (better-sqlite3 builds from source: about 2 minutes)"
  npm ci --no-audit --no-fund
fi

npm run -s build
echo "setup: done (bin/aegis and bin/aegisd are ready)"
