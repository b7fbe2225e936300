#!/usr/bin/env bash
# Measures what docs/BUILD.md quotes: `isola build` of one Dockerfile next to
# `buildah bud --isolation chroot --storage-driver vfs --layers` of the same Dockerfile on the
# same base image (isola's `base`, read by buildah from isola's OCI layout). Run by hand as root
# after npm run build; not part of npm test. Each figure is the median of RUNS runs:
#   cold       empty build cache (a fresh isola data root / buildah storage; base already there)
#   no-change  the same build again: every step from the cache
#   one-file   the file of the last COPY changed: the steps before it from the cache
#   bash scripts/measure-build.sh [RUNS]
# buildah runs with chroot isolation and its own --root/--runroot only: never with a network
# setup of its own, which would touch the host's firewall and ip_forward.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
ISOLA="node $PWD/bin/isola.js"
# Lower case: buildah names an image pulled from an oci: layout after its path.
W=/tmp/isola-measure-build-$$; mkdir "$W"
BH="buildah --root $W/R --runroot $W/RR --storage-driver vfs"
cleanup() { $BH rm -a >/dev/null 2>&1 || true; $BH rmi -a -f >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The context: 200 small source files, a Dockerfile of 9 steps with 3 RUNs and 2 COPYs.
mkdir -p "$W/ctx/src"
for i in $(seq 200); do echo "file $i" > "$W/ctx/src/f$i.txt"; done
echo v1 > "$W/ctx/main.txt"
cat > "$W/ctx/Dockerfile" <<'EOF'
ARG BASE=base
FROM ${BASE}
ENV APP=/app
WORKDIR /app
RUN echo one > /one.txt
COPY src/ /app/src/
RUN find /app/src -type f | wc -l > /app/count.txt
RUN echo 'svc:x:1000:1000::/app:/bin/sh' >> /etc/passwd
COPY main.txt /app/
CMD ["cat", "/app/count.txt"]
EOF

declare -A R
for run in $(seq "$RUNS"); do
  echo v1 > "$W/ctx/main.txt"
  export ISOLA_ROOT=$W/isola-$run
  $ISOLA images >/dev/null # builds `base`, not timed
  R[isola_cold]+="$(t $ISOLA build -t bench:1 "$W/ctx")"$'\n'
  R[isola_nochange]+="$(t $ISOLA build -t bench:1 "$W/ctx")"$'\n'
  echo "v$run-changed" > "$W/ctx/main.txt"
  R[isola_onefile]+="$(t $ISOLA build -t bench:1 "$W/ctx")"$'\n'

  echo v1 > "$W/ctx/main.txt"
  $BH rm -a >/dev/null 2>&1 || true; $BH rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$W/R" "$W/RR"
  $BH pull -q "oci:$ISOLA_ROOT/images:base:latest" >/dev/null
  $BH tag "$($BH images -q | head -1)" localhost/base:latest
  BUD="$BH bud --isolation chroot --layers --pull-never --build-arg BASE=localhost/base:latest -t localhost/bench:1"
  R[buildah_cold]+="$(t $BUD "$W/ctx")"$'\n'
  R[buildah_nochange]+="$(t $BUD "$W/ctx")"$'\n'
  echo "v$run-changed" > "$W/ctx/main.txt"
  R[buildah_onefile]+="$(t $BUD "$W/ctx")"$'\n'
  rm -rf "$ISOLA_ROOT"
done
echo "isola $(node -p 'require("./package.json").version'), $(buildah --version), $(nproc) cores, RUNS=$RUNS"
for k in isola_cold buildah_cold isola_nochange buildah_nochange isola_onefile buildah_onefile; do
  printf '%-17s median %.2f s  (runs: %s)\n' "$k" "$(printf '%s' "${R[$k]}" | median)" "$(printf '%s' "${R[$k]}" | tr '\n' ' ')"
done
