import type { InstanceSpec } from '../../core/types.js';
import { ociConfig } from '../container/launch.js';
import type { OciSeccomp } from '../container/seccomp.js';
import { CONTAINER_ID, GUEST } from './persist.js';

/** RAM the guest needs besides the container's own limit: its kernel, init, runc while it starts the container. */
export const GUEST_OVERHEAD_BYTES = 96 * 1024 * 1024;

/**
 * The guest's start script: the VM's workload. It prepares what runc needs (a /run tmpfs, the
 * cgroup v2 hierarchy, the bundle's config and /etc files), runs the image as a container, passes
 * signals on to runc (which passes them to the container) and exits with the container's status.
 * A command runc cannot start ends 127 or 126, as on the host.
 * $1: config.json, $2: /etc/hosts.
 */
export const START_SCRIPT = `#!/bin/sh
set -u
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p ${GUEST.etc} ${GUEST.runcRoot} /sys/fs/cgroup
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup 2>/dev/null || mount -t cgroup2 cgroup2 /sys/fs/cgroup
printf '%s' "$1" > ${GUEST.bundle}/config.json
hostname > ${GUEST.etc}/hostname
printf '%s' "$2" > ${GUEST.etc}/hosts
echo '# isola: instances reach only the host and each other; no resolver is configured' > ${GUEST.etc}/resolv.conf
${GUEST.runc} --root ${GUEST.runcRoot} --log ${GUEST.bundle}/runc.log --log-format json run --bundle ${GUEST.bundle} ${CONTAINER_ID} &
pid=$!
for s in TERM INT HUP QUIT USR1 USR2 WINCH ALRM PWR URG XCPU XFSZ VTALRM PROF SYS TRAP ABRT IO; do trap "kill -$s $pid 2>/dev/null" $s; done
while :; do wait $pid; rc=$?; kill -0 $pid 2>/dev/null || break; done
if [ "$rc" = 1 ] && grep -q 'executable file not found\\|exec: .*no such file or directory' ${GUEST.bundle}/runc.log 2>/dev/null; then rc=127
elif [ "$rc" = 1 ] && grep -q 'exec: .*permission denied' ${GUEST.bundle}/runc.log 2>/dev/null; then rc=126; fi
exit $rc
`;

export interface GuestConfigInputs {
  spec: InstanceSpec;
  uid: number;
  gid: number;
  additionalGids: number[];
  seccomp: OciSeccomp | null;
}

/**
 * The in-guest config.json: the host's container config (same capabilities, seccomp, masked
 * paths, no-new-privileges, limits), with guest paths, and without a network namespace of its
 * own: the container uses the VM's NIC, as a Kata pod sandbox does.
 */
export function guestConfig(g: GuestConfigInputs): Record<string, unknown> {
  const config = ociConfig({
    spec: g.spec,
    rootfs: GUEST.rootfs,
    uid: g.uid,
    gid: g.gid,
    additionalGids: g.additionalGids,
    netnsPath: null,
    seccomp: g.seccomp,
    etcFiles: { hostname: `${GUEST.etc}/hostname`, hosts: `${GUEST.etc}/hosts`, resolv: `${GUEST.etc}/resolv.conf` },
    cgroupsPath: `/isola/${CONTAINER_ID}`,
    nofile: 1048576,
    swapAccounting: false,
    initBinary: GUEST.tini,
  });
  const linux = config.linux as { namespaces: { type: string }[] };
  linux.namespaces = linux.namespaces.filter((n) => n.type !== 'network');
  return config;
}

export function hostsFile(spec: InstanceSpec): string {
  const ip = spec.network.mode === 'bridge' ? `${spec.network.ip}\t${spec.hostname}\n` : '';
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n${ip}`;
}

/** The VM's view of the instance: the start script as its workload, run as root, on a writable disk. */
export function vmSpecOf(spec: InstanceSpec, memoryBytes: number, argv: string[] = []): InstanceSpec {
  return {
    ...spec,
    image: { ...spec.image, ref: `${spec.image.ref} (hybrid)` },
    argv: argv.length ? argv : ['/bin/sh', GUEST.start],
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
    workdir: '/',
    user: '',
    readOnly: false,
    memoryBytes,
  };
}
