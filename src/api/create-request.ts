import { badRequest } from './errors.js';
import type { Kind } from '../core/types.js';
import type { RunRequest } from '../engine/request.js';
import type { HealthFlags } from '../engine/health.js';
import { parseRestartPolicy } from '../engine/restart-policy.js';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag, type MountRequest } from '../engine/mount-flags.js';
import { parsePublish, type PortMapping } from '../net/publish.js';
import { checkDnsOption, checkDnsSearch, checkDnsServer, parseAddHost } from '../net/etc-files.js';
import { parseDevice, parseLogOpts, parseSignal, parseUlimit } from '../cli/run-flags.js';

/**
 * Docker's container create body (Config with HostConfig inside) as isola's RunRequest. Every
 * field is checked for its type here, and every value by the same parser the CLI's flag uses,
 * before anything is made. HostConfig.Runtime selects the isolation kind.
 */
type Obj = Record<string, unknown>;

function obj(v: unknown, name: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${name} must be a JSON object`);
  return v as Obj;
}
function str(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be a string`);
  return v;
}
function bool(v: unknown, name: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw badRequest(`${name} must be true or false`);
  return v;
}
function int(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badRequest(`${name} must be a whole number, not negative`);
  return v;
}
/** Docker's strslice: a list of strings, or one string. null means not given. */
function strList(v: unknown, name: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`${name} must be a list of strings`);
  return v as string[];
}
function strMap(v: unknown, name: string): Record<string, string> {
  const o = obj(v, name);
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw badRequest(`${name}.${k} must be a string`);
  return o as Record<string, string>;
}

/** HostConfig.Runtime: the isolation kind (and, for containers, the OCI runtime). */
export function kindOfRuntime(runtime: string | undefined): { kind: Kind; runtime?: string } {
  switch (runtime ?? '') {
    case '':
    case 'container':
    case 'io.containerd.runc.v2':
      return { kind: 'container' };
    case 'runc':
    case 'crun':
    case 'runsc':
      return { kind: 'container', runtime };
    case 'vm':
      return { kind: 'vm' };
    case 'hybrid':
      return { kind: 'hybrid' };
    default:
      throw badRequest(`unknown runtime specified ${runtime}: use container (or runc, crun, runsc), vm or hybrid`);
  }
}

function shellQuote(a: string): string {
  return /^[A-Za-z0-9_./=:,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Docker's nanoseconds as the duration text isola's health flags take; 0 means the image's (or the default). */
function nanos(v: unknown, name: string): string | undefined {
  const n = int(v, name);
  return n ? `${n}ns` : undefined;
}

function health(v: unknown): HealthFlags | undefined {
  if (v === undefined || v === null) return undefined;
  const h = obj(v, 'Healthcheck');
  const test = strList(h.Test, 'Healthcheck.Test') ?? [];
  const f: HealthFlags = {};
  if (test[0] === 'NONE') f.none = true;
  else if (test[0] === 'CMD-SHELL') {
    if (test.length !== 2) throw badRequest('Healthcheck.Test ["CMD-SHELL", command] takes exactly one command');
    f.cmd = test[1];
  } else if (test[0] === 'CMD') {
    if (test.length < 2) throw badRequest('Healthcheck.Test ["CMD", ...] needs a command');
    f.cmd = test.slice(1).map(shellQuote).join(' ');
  } else if (test.length > 0) throw badRequest(`Healthcheck.Test must start with NONE, CMD or CMD-SHELL, not "${test[0]}"`);
  const set = <K extends keyof HealthFlags>(k: K, x: HealthFlags[K] | undefined) => {
    if (x !== undefined) f[k] = x;
  };
  set('interval', nanos(h.Interval, 'Healthcheck.Interval'));
  set('timeout', nanos(h.Timeout, 'Healthcheck.Timeout'));
  set('startPeriod', nanos(h.StartPeriod, 'Healthcheck.StartPeriod'));
  set('startInterval', nanos(h.StartInterval, 'Healthcheck.StartInterval'));
  const retries = int(h.Retries, 'Healthcheck.Retries');
  if (retries) f.retries = String(retries);
  return Object.keys(f).length > 0 ? f : undefined;
}

function ports(v: unknown): PortMapping[] {
  const out: PortMapping[] = [];
  for (const [key, list] of Object.entries(obj(v, 'HostConfig.PortBindings'))) {
    if (!/^\d{1,5}(-\d{1,5})?(\/(tcp|udp))?$/.test(key)) throw badRequest(`invalid port "${key}" in HostConfig.PortBindings: use PORT/tcp or PORT/udp`);
    const [port, proto = 'tcp'] = key.split('/');
    const bindings = list === null ? [{}] : list;
    if (!Array.isArray(bindings)) throw badRequest(`HostConfig.PortBindings["${key}"] must be a list`);
    for (const b of bindings.length === 0 ? [{}] : bindings) {
      const o = obj(b, `HostConfig.PortBindings["${key}"]`);
      const ip = str(o.HostIp, 'HostIp') ?? '';
      // "0" is Docker's "any free port", as an empty one is (testcontainers sends it).
      const given = str(o.HostPort, 'HostPort') ?? '';
      const hostPort = given === '0' ? '' : given;
      if (ip.includes(':') || hostPort.includes(':')) throw badRequest(`invalid binding ${ip}:${hostPort} for ${key}: isola publishes on IPv4 addresses`);
      out.push(...parsePublish(`${ip ? `${ip}:` : ''}${hostPort ? `${hostPort}:` : ip ? ':' : ''}${port}/${proto}`));
    }
  }
  return out;
}

function mounts(hc: Obj): MountRequest[] {
  const out: MountRequest[] = [];
  for (const b of strList(hc.Binds, 'HostConfig.Binds') ?? []) {
    // The API has no working directory: a host path is absolute, anything else is a volume's name.
    if (b.startsWith('.')) throw badRequest(`invalid bind "${b}": the host path must be absolute`);
    out.push(parseVolumeFlag(b, '/'));
  }
  const list = hc.Mounts ?? [];
  if (!Array.isArray(list)) throw badRequest('HostConfig.Mounts must be a list');
  for (const m of list) {
    const o = obj(m, 'HostConfig.Mounts[]');
    const fields: string[] = [];
    const add = (k: string, x: string | undefined) => {
      if (x === undefined) return;
      if (/[,\n]/.test(x)) throw badRequest(`HostConfig.Mounts[].${k} must not contain a comma or a newline`);
      fields.push(`${k}=${x}`);
    };
    add('type', str(o.Type, 'Mounts[].Type') ?? 'volume');
    add('source', str(o.Source, 'Mounts[].Source'));
    add('target', str(o.Target, 'Mounts[].Target'));
    if (bool(o.ReadOnly, 'Mounts[].ReadOnly')) fields.push('readonly');
    add('bind-propagation', str(obj(o.BindOptions, 'Mounts[].BindOptions').Propagation, 'BindOptions.Propagation'));
    const t = obj(o.TmpfsOptions, 'Mounts[].TmpfsOptions');
    const size = int(t.SizeBytes, 'TmpfsOptions.SizeBytes');
    if (size) add('tmpfs-size', String(size));
    const mode = int(t.Mode, 'TmpfsOptions.Mode');
    if (mode) add('tmpfs-mode', mode.toString(8));
    const src = str(o.Source, 'Mounts[].Source');
    if (src?.startsWith('.')) throw badRequest(`invalid mount source "${src}": the host path must be absolute`);
    out.push(parseMountFlag(fields.join(','), '/'));
  }
  for (const [p, opts] of Object.entries(strMap(hc.Tmpfs, 'HostConfig.Tmpfs'))) out.push(parseTmpfsFlag(opts ? `${p}:${opts}` : p));
  return out;
}

/** Fields isola does not carry out: refused when set, never ignored. */
const UNSUPPORTED: [string, (v: unknown) => boolean][] = [
  ['VolumesFrom', (v) => Array.isArray(v) && v.length > 0],
  ['Links', (v) => Array.isArray(v) && v.length > 0],
  ['IpcMode', (v) => typeof v === 'string' && v !== '' && v !== 'private' && v !== 'shareable'],
  ['PidMode', (v) => typeof v === 'string' && v !== ''],
  ['UTSMode', (v) => typeof v === 'string' && v !== ''],
  ['UsernsMode', (v) => typeof v === 'string' && v !== ''],
  ['CpuShares', (v) => typeof v === 'number' && v !== 0],
  ['CpusetCpus', (v) => typeof v === 'string' && v !== ''],
  ['BlkioWeight', (v) => typeof v === 'number' && v !== 0],
  ['MemorySwap', (v) => typeof v === 'number' && v > 0],
  ['MemoryReservation', (v) => typeof v === 'number' && v !== 0],
  ['VolumeDriver', (v) => typeof v === 'string' && v !== '' && v !== 'local'],
];

export function toRunRequest(body: Obj, name: string | undefined): RunRequest {
  const hc = obj(body.HostConfig, 'HostConfig');
  for (const [k, set] of UNSUPPORTED) if (set(hc[k])) throw badRequest(`HostConfig.${k} is not supported by isola serve`);
  const image = str(body.Image, 'Image');
  if (!image) throw badRequest('config error: Image is required');
  const { kind, runtime } = kindOfRuntime(str(hc.Runtime, 'HostConfig.Runtime'));
  const cmd = strList(body.Cmd, 'Cmd') ?? [];
  const entry = strList(body.Entrypoint, 'Entrypoint');
  const env = strList(body.Env, 'Env') ?? [];
  // A KEY without a value would take the server's own environment: the client resolves those.
  for (const e of env) if (!/^[^=]+=/s.test(e)) throw badRequest(`invalid Env entry "${e.slice(0, 100)}": use KEY=VALUE`);
  const network = str(hc.NetworkMode, 'HostConfig.NetworkMode') ?? 'bridge';
  if (network === 'host' || network.startsWith('container:')) throw badRequest(`network mode ${network} is not available in isola: use bridge, none or a user network`);
  let seccomp = 'default';
  let noNewPrivileges = true;
  for (const o of strList(hc.SecurityOpt, 'HostConfig.SecurityOpt') ?? []) {
    const [k, v] = o.split(/[=:](.*)/s);
    if (k === 'seccomp' && v) seccomp = v === 'unconfined' ? 'unconfined' : v;
    else if (k === 'no-new-privileges' && (v === undefined || v === 'true' || v === 'false')) noNewPrivileges = v !== 'false';
    else throw badRequest(`unsupported security option "${o}": use seccomp=PATH|unconfined or no-new-privileges=true|false`);
  }
  const nano = int(hc.NanoCpus, 'HostConfig.NanoCpus');
  const quota = int(hc.CpuQuota, 'HostConfig.CpuQuota');
  const period = int(hc.CpuPeriod, 'HostConfig.CpuPeriod') || 100_000;
  const cpus = nano ? nano / 1e9 : quota ? quota / period : undefined;
  const memory = int(hc.Memory, 'HostConfig.Memory');
  const pids = typeof hc.PidsLimit === 'number' && hc.PidsLimit > 0 ? int(hc.PidsLimit, 'HostConfig.PidsLimit') : undefined;
  const rp = obj(hc.RestartPolicy, 'HostConfig.RestartPolicy');
  const rpName = str(rp.Name, 'RestartPolicy.Name');
  const retries = int(rp.MaximumRetryCount, 'RestartPolicy.MaximumRetryCount');
  const restart = rpName ? parseRestartPolicy(rpName === 'on-failure' && retries ? `on-failure:${retries}` : rpName) : undefined;
  const autoRemove = bool(hc.AutoRemove, 'HostConfig.AutoRemove');
  if (autoRemove && restart && restart.name !== 'no') throw badRequest('conflicting options: cannot specify both --restart and --rm');
  const labels = strMap(body.Labels, 'Labels');
  const hosts = strList(hc.ExtraHosts, 'HostConfig.ExtraHosts') ?? [];
  const dns = strList(hc.Dns, 'HostConfig.Dns') ?? [];
  const dnsSearch = strList(hc.DnsSearch, 'HostConfig.DnsSearch') ?? [];
  const dnsOptions = strList(hc.DnsOptions, 'HostConfig.DnsOptions') ?? [];
  const ulimits = Array.isArray(hc.Ulimits) ? hc.Ulimits.map((u) => {
    const o = obj(u, 'HostConfig.Ulimits[]');
    return parseUlimit(`${str(o.Name, 'Ulimits[].Name') ?? ''}=${int(o.Soft, 'Ulimits[].Soft') ?? 0}:${int(o.Hard, 'Ulimits[].Hard') ?? 0}`);
  }) : [];
  const devices = Array.isArray(hc.Devices) ? hc.Devices.map((d) => {
    const o = obj(d, 'HostConfig.Devices[]');
    const host = str(o.PathOnHost, 'Devices[].PathOnHost') ?? '';
    return parseDevice(`${host}:${str(o.PathInContainer, 'Devices[].PathInContainer') ?? host}:${str(o.CgroupPermissions, 'Devices[].CgroupPermissions') ?? 'rwm'}`, kind);
  }) : [];
  const log = obj(hc.LogConfig, 'HostConfig.LogConfig');
  const logType = str(log.Type, 'LogConfig.Type');
  if (logType && logType !== 'json-file' && logType !== 'local') throw badRequest(`log driver ${logType} is not supported: isola keeps each instance's log in a file`);
  const logOpts = Object.entries(strMap(log.Config, 'LogConfig.Config')).map(([k, v]) => `${k}=${v}`);
  const h = health(body.Healthcheck);
  const stopSignal = str(body.StopSignal, 'StopSignal');
  const stopTimeout = int(body.StopTimeout, 'StopTimeout');
  const mountList = mounts(hc);
  const publish = ports(hc.PortBindings);
  if (name !== undefined && name.startsWith('/')) name = name.slice(1);
  if (bool(hc.Privileged, 'HostConfig.Privileged') && kind === 'vm') throw badRequest('--privileged means nothing for a VM: it has its own kernel and no host capabilities to grant');
  return {
    image,
    command: entry !== undefined && entry.length > 1 ? [...entry.slice(1), ...cmd] : cmd,
    ...(entry !== undefined ? { entrypoint: entry[0] ?? '' } : {}),
    kind,
    ...(runtime ? { runtime } : {}),
    ...(name ? { name } : {}),
    env,
    ...(str(body.WorkingDir, 'WorkingDir') ? { workdir: str(body.WorkingDir, 'WorkingDir') } : {}),
    ...(str(body.User, 'User') ? { user: str(body.User, 'User') } : {}),
    ...(str(body.Hostname, 'Hostname') ? { hostname: str(body.Hostname, 'Hostname') } : {}),
    ...(memory ? { memoryBytes: memory } : {}),
    ...(cpus ? { cpus } : {}),
    ...(pids ? { pidsLimit: pids } : {}),
    readOnly: bool(hc.ReadonlyRootfs, 'HostConfig.ReadonlyRootfs'),
    network: network === 'default' ? 'bridge' : network,
    publish,
    ...(bool(hc.PublishAllPorts, 'HostConfig.PublishAllPorts') ? { publishAll: true } : {}),
    ...(hosts.length ? { extraHosts: hosts.map(parseAddHost) } : {}),
    ...(dns.length || dnsSearch.length || dnsOptions.length ? { dns: { servers: dns.map(checkDnsServer), search: dnsSearch.map(checkDnsSearch), options: dnsOptions.map(checkDnsOption) } } : {}),
    // Always managed: the monitor's exit command records the exit, as for `isola run -d`; the
    // server is no foreground process that waits for it.
    detach: true,
    autoRemove,
    privileged: bool(hc.Privileged, 'HostConfig.Privileged'),
    capAdd: strList(hc.CapAdd, 'HostConfig.CapAdd') ?? [],
    capDrop: strList(hc.CapDrop, 'HostConfig.CapDrop') ?? [],
    seccomp,
    noNewPrivileges,
    ...(mountList.length ? { mounts: mountList } : {}),
    ...(bool(body.Tty, 'Tty') ? { tty: true } : {}),
    ...(bool(body.OpenStdin, 'OpenStdin') ? { interactive: true, stdinOnce: bool(body.StdinOnce, 'StdinOnce') } : {}),
    ...(restart ? { restart } : {}),
    ...(h ? { health: h } : {}),
    ...(stopSignal ? { stopSignal: parseSignal(stopSignal, 'StopSignal') } : {}),
    ...(stopTimeout !== undefined ? { stopTimeout } : {}),
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(ulimits.length ? { ulimits } : {}),
    ...(bool(hc.Init, 'HostConfig.Init') ? { init: true } : {}),
    ...(devices.length ? { devices } : {}),
    ...parseLogOpts(logOpts),
  };
}
