import type { InstanceSpec, MountSpec, Ulimit } from '../../core/types.js';
import { effectiveCaps } from '../../core/caps.js';
import type { OciSeccomp } from './seccomp.js';

/** Paths Docker masks or makes read-only inside /proc and /sys (moby oci/defaults.go). */
export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const CPU_PERIOD = 100_000;

export interface BundleInputs {
  spec: InstanceSpec;
  rootfs: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  netnsPath: string | null;
  seccomp: OciSeccomp | null;
  /** Files bind-mounted read-only over the image's: /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  etcFiles: { hostname: string; hosts: string; resolv: string };
  cgroupsPath: string;
  /** Capabilities isola itself may hand out (its bounding set). */
  boundingCaps?: readonly string[];
  /** RLIMIT_NOFILE for the workload: Docker's 1048576, or the host's hard limit where that is lower. */
  nofile: number;
  /** Whether the host accounts swap (cgroup v1 memory.memsw.*): then swap is capped at the limit. */
  swapAccounting: boolean;
  /** The hybrid guest: where each bind or volume of spec.mounts is in the guest (its virtiofs share), by target. */
  mountSources?: ReadonlyMap<string, string>;
  /** With spec.init: the static tini to bind-mount as /sbin/docker-init (a host path, or the guest's). */
  initBinary?: string;
}

type OciMount = { destination: string; type: string; source: string; options: string[] };

/**
 * A user mount (-v, --mount, --tmpfs) as an OCI mount: binds recursive with their propagation
 * (rprivate unless asked) and, read-only, remounted ro by the runtime; tmpfs nosuid and nodev,
 * with its size and mode.
 */
export function ociMount(m: MountSpec, source?: string): OciMount {
  if (m.type === 'tmpfs') {
    const options = ['nosuid', 'nodev', ...(m.noExec ? ['noexec'] : []), `mode=${(m.mode ?? 0o1777).toString(8)}`, ...(m.sizeBytes ? [`size=${m.sizeBytes}`] : []), ...(m.readOnly ? ['ro'] : [])];
    return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options };
  }
  return { destination: m.target, type: 'bind', source: source ?? m.source, options: ['rbind', m.propagation, ...(m.readOnly ? ['ro'] : [])] };
}

/** Where a mount's propagation asks for it, the root's must allow it (Docker's rule). */
function rootfsPropagation(mounts: readonly MountSpec[]): string | undefined {
  const props = mounts.flatMap((m) => (m.type === 'tmpfs' ? [] : [m.propagation]));
  if (props.some((p) => p.endsWith('shared'))) return 'rshared';
  if (props.some((p) => p.endsWith('slave'))) return 'rslave';
  return undefined;
}

/** Where --init's tini is mounted, as Docker mounts its docker-init. */
export const INIT_PATH = '/sbin/docker-init';

/** RLIMIT_INFINITY does not fit a JSON number JavaScript can write: a marker, replaced by serializeOci. */
const RLIM_INFINITY_MARK = '__isola_rlim_infinity__';

/** The OCI rlimits: RLIMIT_NOFILE's default (`nofile`) unless --ulimit sets it, then every --ulimit. */
export function ociRlimits(ulimits: readonly Ulimit[] | undefined, nofile: number): { type: string; soft: number | string; hard: number | string }[] {
  const v = (n: number) => (n < 0 ? RLIM_INFINITY_MARK : n);
  const given = ulimits ?? [];
  const out = given.some((u) => u.name === 'nofile') ? [] : [{ type: 'RLIMIT_NOFILE', soft: nofile, hard: nofile } as { type: string; soft: number | string; hard: number | string }];
  for (const u of given) out.push({ type: `RLIMIT_${u.name.toUpperCase()}`, soft: v(u.soft), hard: v(u.hard) });
  return out;
}

/** config.json's text: JSON, with unlimited rlimits written as the uint64 the runtime expects. */
export function serializeOci(config: Record<string, unknown>, indent?: number): string {
  return JSON.stringify(config, null, indent).replaceAll(`"${RLIM_INFINITY_MARK}"`, '18446744073709551615');
}

/** The OCI runtime config.json (runtime-spec 1.0.2) for one container. Pure: unit-tested. */
export function ociConfig(b: BundleInputs): Record<string, unknown> {
  const { spec } = b;
  const sec = spec.security;
  const caps = effectiveCaps(sec.capAdd, sec.capDrop, sec.privileged, b.boundingCaps);
  const resources: Record<string, unknown> = {
    devices: [{ allow: false, access: 'rwm' }, ...defaultDevices()],
  };
  if (spec.memoryBytes) resources.memory = { limit: spec.memoryBytes, ...(b.swapAccounting ? { swap: spec.memoryBytes } : {}) };
  if (spec.cpus) resources.cpu = { quota: Math.round(spec.cpus * CPU_PERIOD), period: CPU_PERIOD };
  if (spec.pidsLimit) resources.pids = { limit: spec.pidsLimit };
  const devices = spec.devices ?? [];
  for (const d of devices) (resources.devices as object[]).push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions });
  const init = spec.init && b.initBinary ? b.initBinary : null;
  const namespaces: { type: string; path?: string }[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'cgroup' },
    b.netnsPath ? { type: 'network', path: b.netnsPath } : { type: 'network' },
  ];
  // Parents before children: a mount inside another lands on it.
  const user = [...(spec.mounts ?? [])].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  const userMounts = user.map((m) => ociMount(m, b.mountSources?.get(m.target)));
  const taken = new Set(userMounts.map((m) => m.destination));
  const propagation = rootfsPropagation(user);
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: !!spec.tty,
      user: { uid: b.uid, gid: b.gid, additionalGids: b.additionalGids },
      args: init ? [INIT_PATH, '--', ...spec.argv] : spec.argv,
      env: spec.env,
      cwd: spec.workdir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: ociRlimits(spec.ulimits, b.nofile),
      noNewPrivileges: sec.noNewPrivileges,
    },
    root: { path: b.rootfs, readonly: spec.readOnly },
    hostname: spec.hostname,
    mounts: [...[
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sec.privileged ? 'rw' : 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      { destination: '/etc/hostname', type: 'bind', source: b.etcFiles.hostname, options: ['rbind', 'ro'] },
      { destination: '/etc/hosts', type: 'bind', source: b.etcFiles.hosts, options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: b.etcFiles.resolv, options: ['rbind', 'ro'] },
      // A writable /tmp even on a read-only root, as Podman's --read-only-tmpfs does.
      ...(spec.readOnly ? [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }] : []),
      ...(init ? [{ destination: INIT_PATH, type: 'bind', source: init, options: ['rbind', 'ro'] }] : []),
    ].filter((m) => !taken.has(m.destination)), ...userMounts], // a user mount replaces a default one at its path, as in Docker
    linux: {
      namespaces,
      ...(propagation ? { rootfsPropagation: propagation } : {}),
      ...(devices.length > 0 ? { devices: devices.map((d) => ({ path: d.containerPath, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid })) } : {}),
      cgroupsPath: b.cgroupsPath,
      resources,
      ...(sec.privileged ? {} : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS }),
      ...(b.seccomp ? { seccomp: b.seccomp } : {}),
    },
  };
}

/** The device nodes every container gets (the OCI runtime spec's default set), allowed in the device cgroup. */
function defaultDevices(): { allow: boolean; type: string; major: number; minor: number; access: string }[] {
  const d = (major: number, minor: number) => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [d(1, 3), d(1, 5), d(1, 7), d(1, 8), d(1, 9), d(5, 0), d(5, 1), d(5, 2)];
}
