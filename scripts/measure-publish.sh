#!/usr/bin/env bash
# Measures a published port two ways on this host, for docs/NETWORK.md:
#   dnat   isola's -p: one nftables DNAT rule per mapping (kernel forwarding)
#   socat  the userland forwarder isola ran per mapping before, with the same argv
#          (socat TCP-LISTEN:PORT,bind=IP,fork,reuseaddr TCP:INSTANCE_IP:PORT)
#   direct the instance's own address, no forwarding (the floor)
# against one container running busybox httpd, and reports:
#   - requests/s and latency (wrk, HTTP/1.0: a new connection per request, as httpd closes them)
#   - bulk throughput (curl, a 256 MiB file)
#   - the client address the service sees, from the host and from "the outside" (a network
#     namespace this script makes on 198.18.250.0/24, the benchmarking range)
# Needs root, wrk, curl, socat; runs under the integration lock. Usage:
#   flock /tmp/isola-integration.lock scripts/measure-publish.sh [SECONDS_PER_WRK_RUN] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
RUNS=${2:-3}
ROOT=$(mktemp -d /tmp/isola-measure-XXXXXX)
export ISOLA_ROOT=$ROOT
I="node bin/isola.js"
NS=measure-out-$$
DEV=measure$$
SOCAT_PID=
cleanup() {
  [ -n "$SOCAT_PID" ] && kill -- "-$SOCAT_PID" 2>/dev/null || true
  $I rm -f m-pub >/dev/null 2>&1 || true
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$DEV" 2>/dev/null || true
  rm -rf "$ROOT"
}
trap cleanup EXIT

# The service: small and big files, and a CGI that prints the peer's address.
$I run -d --name m-pub -p 18990:8000 base sh -c '
  mkdir -p /w/cgi-bin && head -c 1024 /dev/zero > /w/small && head -c 268435456 /dev/zero > /w/big &&
  printf "%s\n" "#!/bin/sh" "echo Content-Type: text/plain" "echo" "echo \$REMOTE_ADDR" > /w/cgi-bin/ip && chmod +x /w/cgi-bin/ip &&
  exec httpd -f -p 8000 -h /w' >/dev/null
IP=$($I inspect m-pub | sed -n 's/.*"IPAddress": "\(.*\)".*/\1/p' | head -1)
until curl -sf -o /dev/null "http://$IP:8000/small"; do sleep 0.2; done

# The socat forwarder, exactly as isola started it per mapping (its own process group).
setsid socat "TCP-LISTEN:18991,bind=0.0.0.0,fork,reuseaddr" "TCP:$IP:8000" & SOCAT_PID=$!
until curl -sf -o /dev/null "http://127.0.0.1:18991/small"; do sleep 0.1; done

# The outside.
ip netns add "$NS"
ip link add "$DEV" type veth peer name eth0 netns "$NS"
ip addr add 198.18.250.1/24 dev "$DEV"; ip link set "$DEV" up
ip -n "$NS" addr add 198.18.250.2/24 dev eth0; ip -n "$NS" link set eth0 up; ip -n "$NS" link set lo up

declare -A URL=([dnat]=127.0.0.1:18990 [socat]=127.0.0.1:18991 [direct]=$IP:8000)
declare -A OUT=([dnat]=198.18.250.1:18990 [socat]=198.18.250.1:18991 [direct]=)

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "host: $(nproc) CPUs, $(uname -r); instance $IP; $RUNS runs of ${SECS}s wrk (2 threads, 16 connections) and of a 256 MiB download"
printf '%-7s %12s %12s %12s %14s %-22s %-22s\n' path 'req/s' 'p50 ms' 'p99 ms' 'MiB/s' 'client (from host)' 'client (from outside)'
for path in direct dnat socat; do
  rps=(); p50=(); p99=(); mibs=()
  for _ in $(seq "$RUNS"); do
    w=$(wrk -t2 -c16 -d"${SECS}s" --latency "http://${URL[$path]}/small")
    rps+=("$(awk '/Requests\/sec/ {print $2}' <<<"$w")")
    to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }
    p50+=("$(awk '$1=="50%" {print $2}' <<<"$w" | to_ms)")
    p99+=("$(awk '$1=="99%" {print $2}' <<<"$w" | to_ms)")
    bps=$(curl -s -o /dev/null -w '%{speed_download}' "http://${URL[$path]}/big")
    mibs+=("$(awk -v b="$bps" 'BEGIN {printf "%.0f", b/1048576}')")
  done
  from_host=$(curl -s "http://${URL[$path]}/cgi-bin/ip" | sed 's/^\[::ffff:\(.*\)\]$/\1/')
  from_out='-'
  [ -n "${OUT[$path]}" ] && from_out=$(ip netns exec "$NS" curl -s -m 5 "http://${OUT[$path]}/cgi-bin/ip" | sed 's/^\[::ffff:\(.*\)\]$/\1/')
  printf '%-7s %12s %12s %12s %14s %-22s %-22s\n' "$path" \
    "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p50[@]}" | median)" "$(printf '%s\n' "${p99[@]}" | median)" \
    "$(printf '%s\n' "${mibs[@]}" | median)" "$from_host" "$from_out"
done
echo "processes per published port: dnat 0, socat $(( $(pgrep -g "$SOCAT_PID" | wc -l) )) (1 listener + 1 per open connection)"
