import type { InstanceRecord } from '../state/instances.js';
import { lifeOf } from '../state/instances.js';
import { bridgeNetworks } from '../net/etc-files.js';
import { formatRestartPolicy } from '../engine/restart-policy.js';

/** Docker's shapes of an instance: the list entry (`/containers/json`) and the inspect document. */

interface PortView {
  hostIp: string;
  hostPort: number;
  instancePort: number;
  protocol: string;
}

function portsOf(rec: InstanceRecord): PortView[] {
  return rec.ports.map((p) => {
    const m = p as Partial<PortView> & { protocol?: string };
    return { hostIp: m.hostIp ?? '0.0.0.0', hostPort: m.hostPort ?? 0, instancePort: m.instancePort ?? 0, protocol: m.protocol ?? 'tcp' };
  });
}

/** Docker's State.Status. */
export function dockerState(rec: InstanceRecord): string {
  const life = lifeOf(rec);
  switch (rec.state) {
    case 'running':
      return life.paused ? 'paused' : 'running';
    case 'exited':
      return life.restart ? 'restarting' : 'exited';
    case 'dead':
      return 'dead';
    default:
      return 'created';
  }
}

/** Docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

function statusText(rec: InstanceRecord, now = Date.now()): string {
  const life = lifeOf(rec);
  switch (rec.state) {
    case 'running': {
      const health = life.health ? ` (${life.health.status === 'starting' ? 'health: starting' : life.health.status})` : '';
      return `Up ${humanDuration(now - Date.parse(rec.startedAt ?? rec.createdAt))}${life.paused ? ' (Paused)' : health}`;
    }
    case 'exited':
      if (life.restart) return `Restarting (${rec.exitCode ?? 0}) ${humanDuration(now - Date.parse(rec.finishedAt ?? rec.createdAt))} ago`;
      return `Exited (${rec.exitCode ?? 0}) ${humanDuration(now - Date.parse(rec.finishedAt ?? rec.createdAt))} ago`;
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

/** Docker's Command in a list: the arguments with a space in them single-quoted, as dockerd writes it. */
function command(rec: InstanceRecord): string {
  return rec.spec.argv.map((a, i) => (i > 0 && a.includes(' ') ? `'${a}'` : a)).join(' ');
}

function networks(rec: InstanceRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of bridgeNetworks(rec.spec)) {
    out[n.networkName ?? 'bridge'] = {
      NetworkID: n.networkId ?? 'bridge', EndpointID: '', Gateway: n.gateway, IPAddress: n.ip, IPPrefixLen: n.prefixLength,
      MacAddress: n.mac, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, Aliases: null, Links: null, DriverOpts: null,
    };
  }
  return out;
}

function mounts(rec: InstanceRecord): unknown[] {
  return (rec.spec.mounts ?? []).map((m) => m.type === 'tmpfs'
    ? { Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW: true, Propagation: '' }
    : { Type: m.type, ...(m.type === 'volume' && m.volume ? { Name: m.volume } : {}), Source: m.source, Destination: m.target, Driver: m.type === 'volume' ? 'local' : undefined, Mode: '', RW: !m.readOnly, Propagation: m.propagation ?? 'rprivate' });
}

export function summary(rec: InstanceRecord): Record<string, unknown> {
  return {
    Id: rec.id,
    Names: [`/${rec.name}`],
    Image: rec.imageRef,
    ImageID: rec.imageDigest,
    Command: command(rec),
    Created: Math.floor(Date.parse(rec.createdAt) / 1000),
    Ports: portsOf(rec).map((p) => ({ IP: p.hostIp, PrivatePort: p.instancePort, PublicPort: p.hostPort, Type: p.protocol })),
    Labels: rec.spec.labels ?? {},
    State: dockerState(rec),
    Status: statusText(rec),
    HostConfig: { NetworkMode: rec.spec.network.mode === 'none' ? 'none' : 'bridge' },
    NetworkSettings: { Networks: networks(rec) },
    Mounts: mounts(rec),
    // isola's own: the isolation kind (also HostConfig.Runtime in inspect).
    Runtime: rec.kind,
  };
}

function portMap(rec: InstanceRecord): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of portsOf(rec)) {
    const key = `${p.instancePort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}

export function inspect(rec: InstanceRecord): Record<string, unknown> {
  const life = lifeOf(rec);
  const s = rec.spec;
  const bridge = bridgeNetworks(s)[0];
  const h = life.health;
  return {
    Id: rec.id,
    Created: rec.createdAt,
    Path: s.argv[0] ?? '',
    Args: s.argv.slice(1),
    State: {
      Status: dockerState(rec), Running: rec.state === 'running', Paused: life.paused, Restarting: life.restart !== null,
      OOMKilled: rec.oomKilled, Dead: rec.state === 'dead', Pid: 0, ExitCode: rec.exitCode ?? 0, Error: '',
      StartedAt: rec.startedAt ?? '0001-01-01T00:00:00Z', FinishedAt: rec.finishedAt ?? '0001-01-01T00:00:00Z',
      ...(h ? { Health: { Status: h.status, FailingStreak: h.failingStreak, Log: h.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })) } } : {}),
    },
    Image: rec.imageDigest,
    Name: `/${rec.name}`,
    RestartCount: life.restartCount,
    Driver: 'isola',
    Platform: 'linux',
    HostConfig: {
      Runtime: rec.kind,
      Memory: s.memoryBytes ?? 0,
      NanoCpus: s.cpus ? Math.round(s.cpus * 1e9) : 0,
      PidsLimit: s.pidsLimit ?? null,
      RestartPolicy: { Name: s.restart?.name ?? 'no', MaximumRetryCount: s.restart?.maxRetries ?? 0 },
      AutoRemove: rec.autoRemove,
      NetworkMode: s.network.mode === 'none' ? 'none' : (bridge?.networkName ?? 'bridge'),
      PortBindings: portMap(rec),
      Binds: (s.mounts ?? []).filter((m) => m.type !== 'tmpfs').map((m) => `${m.type === 'volume' && m.volume ? m.volume : m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
      ReadonlyRootfs: s.readOnly,
      Privileged: s.security.privileged,
      CapAdd: s.security.capAdd,
      CapDrop: s.security.capDrop,
      Init: s.init ?? false,
      LogConfig: { Type: 'json-file', Config: {} },
    },
    Mounts: mounts(rec),
    Config: {
      Hostname: s.hostname, User: s.user, Env: s.env, Cmd: s.argv, Entrypoint: null, Image: rec.imageRef, WorkingDir: s.workdir,
      Labels: s.labels ?? {}, Tty: !!s.tty, OpenStdin: !!s.stdinOpen, StdinOnce: !!s.stdinOnce, AttachStdin: false, AttachStdout: false, AttachStderr: false,
      ExposedPorts: Object.fromEntries(portsOf(rec).map((p) => [`${p.instancePort}/${p.protocol}`, {}])),
      ...(s.stopSignal ? { StopSignal: s.stopSignal } : {}),
      ...(s.stopTimeout !== undefined ? { StopTimeout: s.stopTimeout } : {}),
    },
    NetworkSettings: {
      IPAddress: bridge?.ip ?? '', IPPrefixLen: bridge?.prefixLength ?? 0, Gateway: bridge?.gateway ?? '', MacAddress: bridge?.mac ?? '',
      Ports: portMap(rec), Networks: networks(rec),
    },
    // isola's own: what Docker does not have.
    Isola: { Kind: rec.kind, RestartPolicy: formatRestartPolicy(s.restart) },
  };
}
