#!/usr/bin/env bash
# Installs what xenlight needs on a Debian 12 machine, each thing only when it is missing:
# Debian packages (toolchain, libxen-dev; Xen, QEMU, kernel and busybox for Xen in a box),
# the npm packages, and the build (addon + TypeScript). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0
# Xen versions whose box is wanted besides 4.17's (--xen 4.20, or XENLIGHT_XEN=4.20): their dom0
# root (a Debian 13 root for 4.20) is built here once, with mmdebstrap, and cached outside the
# checkout (src/box/roots.ts).
xen="${XENLIGHT_XEN:-4.17}"
while [ $# -gt 0 ]; do
  case "$1" in
    --quiet) quiet=1 ;;
    --xen) xen="$2"; shift ;;
    --xen=*) xen="${1#--xen=}" ;;
    *) echo "setup: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
say() { [ "$quiet" = 1 ] || echo "setup: $*" >&2; }

pkgs=(g++ make python3 libxen-dev clang-format)
if [ "${XENLIGHT_TEST_HOST:-box}" != real ]; then
  # Xen in a box: the hypervisor, xl and its daemons, QEMU (and the qdisk/HVM device model),
  # firmware, busybox for the initramfs, modprobe and cpio to build it, xorriso for the HVM guests'
  # idle boot CD.
  pkgs+=(xen-hypervisor-4.17-amd64 xen-utils-4.17 qemu-system-x86 qemu-system-xen seabios ipxe-qemu qemu-utils
         busybox-static kmod cpio xorriso iproute2 procps curl tmux gdb xen-hypervisor-4.17-amd64-dbg)
  # The 4.20 box's trixie root: mmdebstrap builds it, xz unpacks its kernel modules.
  if [ "$xen" = 4.20 ]; then pkgs+=(mmdebstrap xz-utils); fi
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${XENLIGHT_TEST_HOST:-box}" != real ] && ! compgen -G '/boot/vmlinuz-6.1.*-amd64' >/dev/null; then
  missing+=(linux-image-amd64)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run as root (apt-get install) or install them" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# promtool (from Debian's prometheus package) validates the exporter's output in the tests. Only
# the one binary is unpacked: installing the package would start a Prometheus server.
if [ ! -x .cache/tools/promtool ]; then
  say "unpacking promtool from Debian's prometheus package"
  mkdir -p .cache/debs .cache/tools
  (cd .cache/debs && { apt-get download -q prometheus >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; })
  rm -rf .cache/debs/x && dpkg-deb -x .cache/debs/prometheus_*.deb .cache/debs/x
  cp .cache/debs/x/usr/bin/promtool .cache/tools/promtool && rm -rf .cache/debs
fi

if [ -L node_modules ]; then
  # A worktree sharing another checkout's node_modules: npm ci would empty that one.
  say "node_modules is a symlink (to $(readlink -f node_modules)): not running npm ci"
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
if [ ! -f build/Release/xenlight.node ] || [ -n "$(find native binding.gyp -newer build/Release/xenlight.node 2>/dev/null | head -1)" ]; then
  say "building the addon"
  npm run --silent build:native >/dev/null
fi
say "compiling TypeScript"
npm run --silent build:ts
if [ "$xen" = 4.20 ] && [ "${XENLIGHT_TEST_HOST:-box}" != real ]; then
  # Quick when the cached root's package versions are still the archive's.
  nice -n 19 node -e "require('./dist/box/roots').prepareRoot('4.20', { log: (m) => console.error('setup: ' + m) })"
  # The addon for Xen 4.20, built in a chroot of that root (~15 s; under the box's emulated CPU it
  # would take minutes): the 4.20 box's dom0 loads it from the shared checkout.
  nice -n 19 node scripts/prebuild.mjs --xen 4.20 --if-stale
fi
