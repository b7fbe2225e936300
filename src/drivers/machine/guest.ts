import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../util/exec.js';
import { makeExt4 } from '../../guest/ext4.js';
import { putFile, putRuncTools, type GuestSystem } from '../hybrid/disk.js';
import { CTR_NET_PATH, CTR_NET_SCRIPT, MACHINE_ROUTING } from './guest-net.js';

/** Paths inside a machine's guest. */
export const MACHINE_GUEST = {
  runc: '/.isola/runc',
  conmon: '/.isola/conmon',
  tini: '/.isola/tini',
  /** The static terminal relay (src/guest/tty-relay.c): a client's end of conmon's attach socket (terminals.ts). */
  relay: '/.isola/tty-relay',
  /** The machine's workload: prepares /run and cgroups, then waits; on SIGTERM it stops every container. */
  main: '/.isola/machine',
  /**
   * Starts one container: `ctr-start ID IMAGE-HEX NAME CONMON-ARGS NET` (NET: `-`, `none` or
   * `VETH ADDR/PREFIX GATEWAY MAC`). With CTR_CREATE_ONLY=1 it stops before `runc start`.
   */
  start: '/.isola/ctr-start',
  runcRoot: '/run/runc',
  /** isola's unpacked image roots, shared read-only from the host once per machine (virtiofs). */
  images: '/.isola/images',
  /** The machine's container folder on the host, shared read-write: each container's config, log and exit file. */
  shared: '/.isola/m',
  /** The machine's volume folder on the host (volumes.ts): each container's host folders, bound there while it runs. */
  volumes: '/.isola/v',
  /** Per container in the guest: its bundle (/run, a tmpfs) and its overlay's upper layer (on the machine's disk). */
  bundles: '/run/isola',
  layers: '/var/lib/isola',
} as const;

/** busybox applets the machine's scripts, exec and the security profile use. */
const APPLETS = ['sh', 'mount', 'umount', 'mkdir', 'rm', 'cp', 'cat', 'grep', 'sed', 'sleep', 'ls', 'uname', 'readlink', 'head', 'kill', 'echo', 'printf', 'ps', 'setsid', 'test', '[', 'ip', 'nsenter'];

export const MACHINE_SCRIPT = `#!/bin/sh
set -u
R="${MACHINE_GUEST.runc} --root ${MACHINE_GUEST.runcRoot}"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p ${MACHINE_GUEST.runcRoot} ${MACHINE_GUEST.bundles} ${MACHINE_GUEST.layers} /sys/fs/cgroup
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup 2>/dev/null || mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Containers' addresses are on isola0 too: the machine forwards between its NIC and their veths
# and answers ARP for them on eth0 (and for isola0's addresses on their veths), at once.
echo 0 > /proc/sys/net/ipv4/neigh/default/proxy_delay
echo 0 > /proc/sys/net/ipv4/neigh/eth0/proxy_delay 2>/dev/null
echo 1 > /proc/sys/net/ipv4/conf/all/proxy_arp
echo 1 > /proc/sys/net/ipv4/ip_forward
# User networks: every packet of a container goes to the host, whose rules decide (guest-net.ts).
${MACHINE_ROUTING}# Containers of an earlier boot left upper layers: they start again on them (isola start);
# those of containers removed meanwhile (their shared folder is gone) go.
for w in $(ls ${MACHINE_GUEST.layers}); do [ -d "${MACHINE_GUEST.shared}/$w" ] || rm -rf "${MACHINE_GUEST.layers}/$w"; done
stopall() {
  for c in $(ls ${MACHINE_GUEST.runcRoot}); do $R kill "$c" TERM 2>/dev/null; done
  i=0
  while [ $i -lt 80 ] && [ -n "$(ls ${MACHINE_GUEST.bundles}/*/pid 2>/dev/null | while read p; do kill -0 "$(cat "$p")" 2>/dev/null && echo "$p"; done)" ]; do sleep 0.1; i=$((i+1)); done
  for c in $(ls ${MACHINE_GUEST.runcRoot}); do $R kill "$c" KILL 2>/dev/null; done
  sleep 0.5
  exit 0
}
trap stopall TERM INT
echo ready > ${MACHINE_GUEST.bundles}/.ready
while :; do sleep 3600 & wait $!; done
`;

/**
 * One container's start, run through the agent: its overlay (the image's unpacked root, shared
 * from the host, under an upper layer on the machine's disk), its config from the shared folder,
 * conmon (the same monitor as a host container: CRI log and exit file, both in the shared folder
 * the host reads), its network (see below), then runc start. Errors of runc create come back on
 * stderr, as runc said them.
 *
 * Its network: runc made its network namespace (only loopback). With an address, a veth pair:
 * one end moved into it as eth0 with the container's address, MAC and the default route via
 * isola0's gateway; the other end stays in the guest with a /32 route to the address. Proxy ARP
 * (set at the machine's boot) makes the machine answer for the address on isola0 and for isola0's
 * addresses on the veth, so the host, other instances and the machine's other containers reach
 * it as any instance. The pair goes with the namespace when the container ends.
 */
export const CONTAINER_START_SCRIPT = `#!/bin/sh
set -u
id=$1; lower=${MACHINE_GUEST.images}/$2; name=$3; net=$5
R="${MACHINE_GUEST.runc} --root ${MACHINE_GUEST.runcRoot}"
d=${MACHINE_GUEST.shared}/$id; b=${MACHINE_GUEST.bundles}/$id; w=${MACHINE_GUEST.layers}/$id
[ -d "$lower" ] || { echo "the image root $2 is not in the machine's image share" >&2; exit 125; }
$R delete -f "$id" >/dev/null 2>&1
mkdir -p "$b/rootfs" "$b/sock" "$w/upper" "$w/work" "$d/exit"
rm -f "$d/exit/$id" "$b/pid" "$b/sync"
grep -q " $b/rootfs " /proc/mounts || mount -t overlay overlay -o "lowerdir=$lower,upperdir=$w/upper,workdir=$w/work" "$b/rootfs" || exit 125
cp "$d/config.json" "$b/config.json"
_OCI_SYNCPIPE=3 ${MACHINE_GUEST.conmon} --api-version 1 -c "$id" -u "$id" -n "$name" -r ${MACHINE_GUEST.runc} -b "$b" \\
  -p "$b/pid" --conmon-pidfile "$b/conmon.pid" --exit-dir "$d/exit" -l "k8s-file:$d/ctr.log" --log-level error \\
  --socket-dir-path "$b/sock" --runtime-arg "--root=${MACHINE_GUEST.runcRoot}" $4 </dev/null >/dev/null 2>"$b/conmon.err" 3>"$b/sync"
i=0
# Until conmon reports on the sync file; a conmon that died without a word ends the wait.
while [ $i -lt 600 ] && ! grep -q '}' "$b/sync" 2>/dev/null; do
  [ -s "$b/conmon.pid" ] && ! kill -0 "$(cat "$b/conmon.pid")" 2>/dev/null && ! grep -q '}' "$b/sync" && break
  sleep 0.05; i=$((i+1))
done
if ! grep -q '"data": *[1-9]' "$b/sync" 2>/dev/null; then
  msg=$(sed -n 's/.*"message": *"\\(.*\\)".*/\\1/p' "$b/sync")
  [ -n "$msg" ] || msg="conmon did not report the container: $(cat "$b/conmon.err" 2>/dev/null)"
  echo "$msg" >&2
  exit 125
fi
if [ "$net" != - ] && [ "$net" != none ]; then
  addr=$6; gw=$7; mac=$8; pid=$(cat "$b/pid")
  ip link del "$net" 2>/dev/null
  if ! ip link add "$net" type veth 2>"$b/net.err"; then
    echo "the machine's kernel cannot make the container's network (veth): $(cat "$b/net.err"); isola's own guest kernel can (ISOLA_VM_KERNEL=isola)" >&2
    $R delete -f "$id" >/dev/null 2>&1; exit 125
  fi
  peer=$(ip link show | sed -n "s/^[0-9]*: \\([^@:]*\\)@$net:.*/\\1/p")
  if ! { [ -n "$peer" ] && ip link set "$peer" netns "$pid" &&
    nsenter -t "$pid" -n sh -c "ip link set $peer name eth0 && ip link set eth0 address $mac && ip addr add $addr dev eth0 && ip link set lo up && ip link set eth0 up && ip route add default via $gw" &&
    ip link set "$net" up && /bin/sh ${CTR_NET_PATH} --route "$net" "\${addr%/*}"; } 2>"$b/net.err"; then
    echo "the container's network could not be made in the machine: $(cat "$b/net.err")" >&2
    ip link del "$net" 2>/dev/null; $R delete -f "$id" >/dev/null 2>&1; exit 125
  fi
  # Its interfaces after eth0 (user networks, guest-net.ts), each VETH ADDR/PREFIX IFNAME MAC.
  shift 8
  [ $# -eq 0 ] || /bin/sh ${CTR_NET_PATH} "$pid" "$@" || { ip link del "$net" 2>/dev/null; $R delete -f "$id" >/dev/null 2>&1; exit 125; }
fi
# Created only: the host attaches its client to conmon first (terminals.ts), then runs runc start.
[ "\${CTR_CREATE_ONLY:-}" = 1 ] && exit 0
exec $R start "$id"
`;

/** The host programs the machine's guest is made of: the hybrid guest's, and conmon. */
export interface MachineSystem extends GuestSystem {
  conmon: string;
  conmonLibs: string[];
  /** The static terminal relay, when setup built it: without it the machine serves no -i, -t or attach. */
  ttyRelay?: string;
}

async function libsOf(bin: string): Promise<string[]> {
  const r = await run('ldd', [bin]);
  const libs: string[] = [];
  for (const l of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(l) ?? /^\s*(\/\S+)\s+\(/.exec(l);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

export async function machineSystem(sys: GuestSystem, conmon: string, ttyRelay?: string): Promise<MachineSystem> {
  return { ...sys, conmon, conmonLibs: await libsOf(conmon), ...(ttyRelay ? { ttyRelay } : {}) };
}

/**
 * The machine's own disk: busybox, runc, conmon and their libraries, tini, the terminal relay and the two scripts,
 * with `freeBytes` of room for the containers' upper layers (sparse until written). One per
 * machine, in its folder; the VM boots it behind its qcow2 overlay. No image is on it: images
 * reach the guest through the image share.
 */
export async function buildMachineDisk(sys: MachineSystem, scratch: string, disk: string, freeBytes: number): Promise<void> {
  const tree = path.join(scratch, 'tree');
  fs.rmSync(tree, { recursive: true, force: true });
  try {
    putRuncTools(tree, sys, { applets: APPLETS, libs: new Set([...sys.libs, ...sys.conmonLibs]), runcAt: MACHINE_GUEST.runc, tiniAt: MACHINE_GUEST.tini });
    putFile(tree, sys.conmon, MACHINE_GUEST.conmon);
    if (sys.ttyRelay) putFile(tree, sys.ttyRelay, MACHINE_GUEST.relay);
    fs.writeFileSync(path.join(tree, MACHINE_GUEST.main), MACHINE_SCRIPT, { mode: 0o755 });
    fs.writeFileSync(path.join(tree, MACHINE_GUEST.start), CONTAINER_START_SCRIPT, { mode: 0o755 });
    fs.writeFileSync(path.join(tree, CTR_NET_PATH), CTR_NET_SCRIPT, { mode: 0o755 });
    for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'etc', MACHINE_GUEST.images, MACHINE_GUEST.shared, MACHINE_GUEST.volumes, MACHINE_GUEST.layers]) fs.mkdirSync(path.join(tree, d), { recursive: true });
    await makeExt4(tree, disk, 'isola-machine', 'the machine disk', freeBytes);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}
