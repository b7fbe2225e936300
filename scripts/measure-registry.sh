#!/usr/bin/env bash
# Measures what docs/REGISTRY.md quotes: `isola push`/`isola pull` of a ~100 MB image against a
# local docker-registry, next to `skopeo copy` of the same image the same way. Run by hand
# (as root, after npm run build); not part of npm test. Each figure is the median of RUNS runs,
# each against an empty registry, each pull into an empty store.
#   bash scripts/measure-registry.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
ISOLA="node $PWD/bin/isola.js"
W=$(mktemp -d /tmp/isola-measure-XXXXXX)
REG_PID=
cleanup() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
start_registry() { # a fresh, empty registry each time
  [ -n "$REG_PID" ] && { kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true; }
  rm -rf "$W/reg"; mkdir -p "$W/reg"
  PORT=$(port); HOST=127.0.0.1:$PORT
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n  secret: x\n' "$W/reg/data" "$HOST" > "$W/reg/config.yml"
  /usr/bin/docker-registry serve "$W/reg/config.yml" >/dev/null 2>&1 & REG_PID=$!
  until curl -fs "http://$HOST/v2/" >/dev/null; do sleep 0.02; done
}
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The image: busybox plus 100 MiB of random bytes (incompressible, so gzip cannot shrink it).
mkdir -p "$W/rootfs/bin"
cp /bin/busybox "$W/rootfs/bin/busybox"; ln -s busybox "$W/rootfs/bin/sh"
for i in 1 2 3 4; do head -c $((25 * 1024 * 1024)) /dev/urandom > "$W/rootfs/random-$i.bin"; done
tar -C "$W/rootfs" -cf "$W/rootfs.tar" .
export ISOLA_ROOT=$W/src DOCKER_CONFIG=$W/docker
$ISOLA import "$W/rootfs.tar" big:1 >/dev/null
SIZE=$($ISOLA images --json | python3 -c 'import json,sys;print([i["size"] for i in json.load(sys.stdin) if i["ref"]=="big:1"][0])')
echo "image: big:1, $SIZE bytes stored (one gzip layer of 100 MiB random data plus busybox)"

declare -A R
for run in $(seq "$RUNS"); do
  start_registry
  $ISOLA tag big:1 "$HOST/m/big:1"
  R[isola_push]+="$(t $ISOLA push "$HOST/m/big:1")"$'\n'
  rm -rf "$W/dst"
  R[isola_pull]+="$(ISOLA_ROOT=$W/dst t $ISOLA pull "$HOST/m/big:1")"$'\n'
  $ISOLA rmi "$HOST/m/big:1" >/dev/null
  start_registry
  R[skopeo_push]+="$(t skopeo copy --dest-tls-verify=false "oci:$W/src/images:big:1" "docker://$HOST/m/big:1")"$'\n'
  rm -rf "$W/oci"
  R[skopeo_pull]+="$(t skopeo copy --src-tls-verify=false "docker://$HOST/m/big:1" "oci:$W/oci:big:1")"$'\n'
done
for k in isola_push skopeo_push isola_pull skopeo_pull; do
  printf '%-12s median %.2f s  (runs: %s)\n' "$k" "$(printf '%s' "${R[$k]}" | median)" "$(printf '%s' "${R[$k]}" | tr '\n' ' ')"
done
