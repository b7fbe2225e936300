import type { InstanceSpec, MountSpec } from '../../core/types.js';
import { ociConfig } from '../container/launch.js';
import { seccompFor, type OciSeccomp } from '../container/seccomp.js';
import { resolveUser } from '../container/user.js';
import { effectiveCaps } from '../../core/caps.js';
import { CONTAINER_ID, GUEST } from './persist.js';

/** Where the runtime writes the container's pid in the guest (the start script resizes its terminal through it). */
const CONTAINER_PID = `${GUEST.bundle}/container.pid`;

/** RAM the guest needs besides the container's own limit: its kernel, init, runc while it starts the container. */
export const GUEST_OVERHEAD_BYTES = 96 * 1024 * 1024;

/**
 * The guest's start script: the VM's workload. It prepares what runc needs (a /run tmpfs, the
 * cgroup v2 hierarchy, the bundle's config and /etc files), runs the image as a container, passes
 * signals on to runc (which passes them to the container) and exits with the container's status.
 * A command the runtime (runc or crun, see GUEST_RUNTIMES) cannot start ends 127 or 126, as on the host.
 * $1: config.json. The container's /etc/hostname, hosts and resolv.conf are the guest's own,
 * which init keeps (and rewrites when the instance's networks change).
 */
export const START_SCRIPT = `#!/bin/sh
set -u
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p ${GUEST.etc} ${GUEST.runcRoot} /sys/fs/cgroup
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup 2>/dev/null || mount -t cgroup2 cgroup2 /sys/fs/cgroup
cfg=$1
# With -t the container's terminal starts at the size of the guest's (the client's): runc copies
# it from its own stdin, crun does not, so config.json carries it (consoleSize; the key matches
# only unescaped, so never inside a string of the config).
if [ -t 0 ] && set -- $(stty size 2>/dev/null) && [ $# = 2 ] && [ "$1" != 0 ]; then
  cfg=$(printf '%s' "$cfg" | sed 's/"terminal": *true/&,"consoleSize":{"height":'"$1"',"width":'"$2"'}/')
fi
printf '%s' "$cfg" > ${GUEST.bundle}/config.json
# A window size change of the guest's terminal: runc follows it itself on SIGWINCH, crun does
# not, so the container's terminal (its init's stdin) is given the new size here.
resize() {
  [ -t 0 ] && c=$(cat ${CONTAINER_PID} 2>/dev/null) && set -- $(stty size 2>/dev/null) && [ $# = 2 ] && stty -F /proc/$c/fd/0 rows $1 cols $2 2>/dev/null
  return 0
}
# A background job's stdin is /dev/null unless redirected: runc gets the script's own (the
# workload's terminal with -t, its stdin pipe with -i), which it relays to the container.
exec 3<&0
${GUEST.runc} --root ${GUEST.runcRoot} --log ${GUEST.bundle}/runc.log --log-format json run --bundle ${GUEST.bundle} --pid-file ${CONTAINER_PID} ${CONTAINER_ID} <&3 3<&- &
pid=$!
exec 3<&-
for s in TERM INT HUP QUIT USR1 USR2 ALRM PWR URG XCPU XFSZ VTALRM PROF SYS TRAP ABRT IO; do trap "kill -$s $pid 2>/dev/null" $s; done
trap "kill -WINCH $pid 2>/dev/null; resize" WINCH
while :; do wait $pid; rc=$?; kill -0 $pid 2>/dev/null || break; done
if [ "$rc" = 1 ] && grep -qi 'executable file not found\\|executable file \`[^\`]*\` not found\\|exec: .*no such file or directory' ${GUEST.bundle}/runc.log 2>/dev/null; then rc=127
elif [ "$rc" = 1 ] && grep -qi 'exec: .*permission denied\\|open executable: permission denied' ${GUEST.bundle}/runc.log 2>/dev/null; then rc=126; fi
exit $rc
`;

/**
 * An exec on a terminal in the guest: \`sh -c EXEC_ON_TERMINAL sh PIDFILE RUNTIME exec --tty
 * --pid-file PIDFILE ...\`. runc follows the terminal's window size changes itself; crun 1.8.1
 * copies the first size only, so a change (SIGWINCH from the agent's terminal) is given to the
 * command's own terminal (its stdin) here. Exits with the runtime's status.
 */
export const EXEC_ON_TERMINAL = `p=$1; shift
exec 3<&0
"$@" <&3 3<&- &
pid=$!
exec 3<&-
resize() {
  c=$(cat "$p" 2>/dev/null) && set -- $(stty size 2>/dev/null) && [ $# = 2 ] && stty -F /proc/$c/fd/0 rows $1 cols $2 2>/dev/null
  return 0
}
trap resize WINCH
for s in TERM INT HUP QUIT; do trap "kill -$s $pid 2>/dev/null" $s; done
while :; do wait $pid; rc=$?; kill -0 $pid 2>/dev/null || break; done
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
 * The line the guest's runtime writes to the VM's console once the container's process runs
 * (an OCI poststart hook, run by crun or runc in the guest): the host sees the container started
 * from the console file, without asking the guest (each question is a process started in the
 * guest, taken from the one emulated CPU the runtime is using).
 */
export const CONTAINER_STARTED_LINE = 'isola-hybrid: container started';

const STARTED_HOOK = { path: '/bin/sh', args: ['sh', '-c', `echo '${CONTAINER_STARTED_LINE}' > /dev/console`] };

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
    // The guest's files, which init bind-mounts from its own copies: rewritten in place, the
    // container sees the new text too.
    etcFiles: { hostname: '/etc/hostname', hosts: '/etc/hosts', resolv: '/etc/resolv.conf' },
    cgroupsPath: `/isola/${CONTAINER_ID}`,
    nofile: 1048576,
    swapAccounting: false,
    mountSources: guestShareSources(g.spec),
    initBinary: GUEST.tini,
  });
  const linux = config.linux as { namespaces: { type: string }[] };
  linux.namespaces = linux.namespaces.filter((n) => n.type !== 'network');
  config.hooks = { poststart: [STARTED_HOOK] };
  return config;
}


/** guestConfig for an instance whose image is unpacked at `rootfs`: its user, capabilities and seccomp resolved as the container kind resolves them. */
export function guestConfigOf(spec: InstanceSpec, rootfs: string): Record<string, unknown> {
  const caps = effectiveCaps(spec.security.capAdd, spec.security.capDrop, spec.security.privileged);
  return guestConfig({ spec, ...resolveUser(rootfs, spec.user), seccomp: seccompFor(spec.security, caps) });
}

/** Where the guest mounts the instance's shared folders (its init does, before the start script). */
export const GUEST_SHARES = '/.isola/shares';

/**
 * Each bind or volume of the instance is a virtiofs share the guest mounts at GUEST_SHARES/N;
 * the container then binds it at its target (with the same read-only flag). tmpfs mounts are
 * the container's own (in its config), not the VM's.
 */
export function guestShareSources(spec: InstanceSpec): Map<string, string> {
  const binds = (spec.mounts ?? []).filter((m) => m.type !== 'tmpfs');
  return new Map(binds.map((m, i) => [m.target, `${GUEST_SHARES}/${i}`]));
}

function vmMounts(spec: InstanceSpec): MountSpec[] {
  const where = guestShareSources(spec);
  return (spec.mounts ?? []).flatMap((m) => (m.type === 'tmpfs' ? [] : [{ ...m, target: where.get(m.target) ?? m.target, propagation: 'rprivate' as const }]));
}

/** The VM's view of the instance: the start script as its workload, run as root, on a writable disk. */
export function vmSpecOf(spec: InstanceSpec, memoryBytes: number, argv: string[] = []): InstanceSpec {
  const mounts = vmMounts(spec);
  const { mounts: _containerMounts, ...rest } = spec;
  return {
    ...rest,
    ...(mounts.length > 0 ? { mounts } : {}),
    image: { ...spec.image, ref: `${spec.image.ref} (hybrid)` },
    argv: argv.length ? argv : ['/bin/sh', GUEST.start],
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
    workdir: '/',
    user: '',
    readOnly: false,
    memoryBytes,
  };
}
