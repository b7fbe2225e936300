#!/usr/bin/env bash
# Idempotent host setup for isola: Debian packages, npm packages, the build, and the guest
# assets (kernel, init). Safe to run again and again; each step checks before it acts, so a
# second run on a ready host takes about a second plus the incremental build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "bootstrap: isola manages namespaces, cgroups, mounts and network devices, so it needs root; run it as root (sudo npm test)" >&2
  exit 1
fi

# Debian packages. Each is here for a reason:
#   runc crun conmon          OCI runtimes and the container monitor (container driver)
#   tini                      --init: the static tini (tini-static) mounted as the container's PID 1
#   podman                    the peer that `npm run bench` compares against
#   qemu-system-x86 qemu-utils  the VM driver (qemu-system-x86_64, qemu-img)
#   busybox-static            the embedded default image `base`, and the guest's tools
#   e2fsprogs                 mkfs.ext4 -d: image layers to a VM root disk without loop mounts
#   cpio kmod zstd            the guest initramfs (cpio archive, kernel modules)
#   attr                      getfattr: a container's opaque (replaced) folders, for build and commit
#   gcc libc6-dev musl-tools  the static guest init/agent (musl-gcc: small, carried by every VM) and
#                             the host's helpers (gcc), built here from src/guest/*.c
#   iproute2 iptables         bridge, veth, tap, network namespaces
#   nftables                  nft: isola's own table (NAT to the host's networks, isolation between
#                             networks, published ports as DNAT rules); nothing else of the firewall
#   socat wrk                 scripts/measure-publish.sh: the userland forwarder isola used to run per
#                             published port, measured against DNAT with wrk
#   golang-github-containers-common  the default seccomp profile (containers-common's)
#   skopeo umoci docker-registry     interoperability tests: a real registry and OCI tools
#   docker.io curl openssl python3   registry interop tests: a private dockerd (pinged with curl),
#                             the test registry's TLS CA and its htpasswd (bcrypt via python3's crypt)
#   debootstrap               tests build on a real Debian image (minbase + python3), made once and cached
#   chromium                  the HTML report and isola serve's dashboard are checked in a real headless browser
#   prometheus                promtool checks isola serve's /metrics, and a real Prometheus scrapes it
#   seabios ovmf              whole-disk VMs' firmware: BIOS (SeaBIOS) and UEFI (OVMF)
#   syslinux syslinux-common mtools dosfstools fdisk grub-efi-amd64-bin
#                             isola export: the boot partition (FAT, made and filled without
#                             mounting), syslinux for BIOS, GRUB for UEFI, the partition table
#   libxml2-utils             xmllint: exported OVF descriptors are validated against DMTF's schema
#   linux-source-6.1 make patch flex bison bc libelf-dev libssl-dev
#                             isola's own guest kernel (src/guest/kernel/isola.config and patches/), built by the
#                             guest setup below from Debian's kernel source (minutes once, at nice 19;
#                             cached under the assets folder, rebuilt only when the config changes)
PKGS=(runc crun conmon tini podman qemu-system-x86 qemu-utils busybox-static e2fsprogs cpio kmod zstd attr
      gcc libc6-dev musl-tools iproute2 iptables nftables socat wrk golang-github-containers-common skopeo umoci docker-registry
      docker.io curl openssl python3 debootstrap chromium seabios ovmf syslinux syslinux-common mtools
      dosfstools fdisk grub-efi-amd64-bin libxml2-utils linux-source-6.1 make patch flex bison bc libelf-dev libssl-dev prometheus)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm packages: reinstall only when the lockfile changed since the last install. A node_modules
# that is a link to another checkout's folder (a git worktree sharing one install) is left alone:
# npm ci would empty the folder it links to under that checkout's feet, and a fresh worktree's
# lockfile is always newer than the install it shares.
if [ -L node_modules ]; then
  echo "bootstrap: node_modules links to $(readlink -f node_modules): left as it is (run npm ci there when the lockfile changed)"
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The build (incremental: fast when nothing changed), then the CLI as one script with V8's code
# cache for it (scripts/bundle.mjs; bin/isola.js uses it only while it matches this build).
npx tsc -p tsconfig.json
node scripts/bundle.mjs

# Guest assets for the VM and hybrid kinds (Debian's cloud kernel from its archive, isola's own
# kernel built from linux-source-6.1, the static init).
node dist/src/cli/setup.js
