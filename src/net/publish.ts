import dgram from 'node:dgram';
import net from 'node:net';
import { IsolaError, invalid } from '../core/errors.js';
import { processAlive } from '../util/process.js';
import { withNetLock } from './bridge.js';
import { addPublishRules, deletePublishRules, readTable, type PublishRule } from './nft.js';

export type Protocol = 'tcp' | 'udp';

/**
 * One `-p [HOST_IP:]HOST_PORT:INSTANCE_PORT[/tcp|udp]` mapping. hostPort 0 (`-p PORT` alone, or
 * `-P`) means a free port chosen when the instance starts; the chosen one is stored then.
 */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  instancePort: number;
  /** Absent: tcp (mappings stored before udp was possible). */
  protocol?: Protocol;
  /** The host port was chosen at start (it was 0): the next start chooses again. */
  auto?: boolean;
}

/** A mapping of an instance made by an older isola: a socat forwarder with this pid serves it. */
export interface Forwarder extends PortMapping {
  pid: number;
}

export const protocolOf = (m: PortMapping): Protocol => m.protocol ?? 'tcp';

/** `0.0.0.0:8080->80/tcp`, as docker ps prints a mapping. */
export function mappingText(m: PortMapping): string {
  return `${m.hostIp}:${m.hostPort}->${m.instancePort}/${protocolOf(m)}`;
}

function port(text: string, what: string, spec: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw invalid(`invalid ${what} "${text}" in --publish ${spec}`, 'use -p HOST_PORT:INSTANCE_PORT, ports 1-65535');
  return n;
}

function portRange(text: string, what: string, spec: string): number[] {
  const m = /^(\d+)-(\d+)$/.exec(text);
  if (!m) return [port(text, what, spec)];
  const lo = port(m[1] ?? '', what, spec);
  const hi = port(m[2] ?? '', what, spec);
  if (hi < lo) throw invalid(`invalid ${what} range "${text}" in --publish ${spec}`, 'give the lower port first, e.g. 8000-8009');
  if (hi - lo >= 1000) throw invalid(`--publish ${spec}: a range may hold at most 1000 ports`, 'publish fewer ports');
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/**
 * Parses one -p value into its mappings: `[IP:][HOST_PORT[-END]:]PORT[-END][/tcp|udp]`. A host
 * range maps onto an instance range of the same length; without a host port, one is chosen at start.
 */
export function parsePublish(spec: string): PortMapping[] {
  const slash = spec.lastIndexOf('/');
  const body = slash >= 0 ? spec.slice(0, slash) : spec;
  const proto = slash >= 0 ? spec.slice(slash + 1) : 'tcp';
  if (proto !== 'tcp' && proto !== 'udp') throw invalid(`--publish ${spec}: unknown protocol "${proto}"`, 'use /tcp or /udp');
  const parts = body.split(':');
  let hostIp = '0.0.0.0';
  if (parts.length === 3) {
    hostIp = parts.shift() ?? '';
    if (!net.isIPv4(hostIp)) throw invalid(`--publish ${spec}: "${hostIp}" is not an IPv4 address`, 'use -p HOST_IP:HOST_PORT:INSTANCE_PORT with an IPv4 address, or leave the address out');
  }
  if (parts.length > 2 || parts.some((p) => p === '' && parts.length === 1)) throw invalid(`invalid --publish "${spec}"`, 'use -p HOST_PORT:INSTANCE_PORT or -p HOST_IP:HOST_PORT:INSTANCE_PORT');
  const inner = portRange(parts[parts.length - 1] ?? '', 'instance port', spec);
  const hostText = parts.length === 2 ? parts[0] ?? '' : '';
  const outer = hostText === '' ? inner.map(() => 0) : portRange(hostText, 'host port', spec);
  if (outer.length !== inner.length) throw invalid(`--publish ${spec}: the host range and the instance range differ in length`, 'give ranges of the same length, e.g. 8000-8001:80-81');
  return inner.map((p, i) => ({ hostIp, hostPort: outer[i] ?? 0, instancePort: p, protocol: proto }));
}

/** `-P`: every port the image exposes that -p did not publish already, on a port chosen at start. */
export function exposedMappings(exposed: readonly string[], explicit: readonly PortMapping[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const e of exposed) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(e);
    if (!m || m[2] === 'sctp') continue;
    const mapping: PortMapping = { hostIp: '0.0.0.0', hostPort: 0, instancePort: Number(m[1]), protocol: (m[2] ?? 'tcp') as Protocol };
    if (explicit.some((x) => x.instancePort === mapping.instancePort && protocolOf(x) === mapping.protocol)) continue;
    out.push(mapping);
  }
  return out;
}

const overlaps = (a: { hostIp: string }, b: { hostIp: string }): boolean => a.hostIp === b.hostIp || a.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0';

/** Two -p of one instance that claim the same host port. */
export function checkDistinct(maps: readonly PortMapping[]): void {
  for (let i = 0; i < maps.length; i++) {
    for (let j = i + 1; j < maps.length; j++) {
      const a = maps[i];
      const b = maps[j];
      if (a && b && a.hostPort !== 0 && a.hostPort === b.hostPort && protocolOf(a) === protocolOf(b) && overlaps(a, b)) {
        throw invalid(`--publish names host port ${a.hostPort}/${protocolOf(a)} twice`, 'give each mapping its own host port');
      }
    }
  }
}

/** Whether a program of the host could bind this address and port now (nothing else holds it). */
function bindable(hostIp: string, hostPort: number, protocol: Protocol): Promise<number | null> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(null));
      s.bind(hostPort, hostIp, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
      return;
    }
    const s = net.createServer();
    s.once('error', () => resolve(null));
    s.listen(hostPort, hostIp, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function taken(m: PortMapping, by: string): IsolaError {
  return new IsolaError('FAILED_PRECONDITION', `host port ${m.hostIp}:${m.hostPort} is already in use (${protocolOf(m)}, ${by})`, 'choose another host port with -p, or stop what holds it');
}

/** Fails early, with the port named, when something already listens there or another instance publishes it. */
export async function assertPortFree(m: PortMapping, published?: readonly PublishRule[]): Promise<void> {
  if (m.hostPort === 0) return;
  const rules = published ?? (await readTable()).publish;
  const other = rules.find((r) => r.hostPort === m.hostPort && r.protocol === protocolOf(m) && overlaps(r, m));
  if (other) throw taken(m, `published by instance ${other.instanceId.slice(0, 12)}`);
  if ((await bindable(m.hostIp, m.hostPort, protocolOf(m))) === null) throw taken(m, 'a program of the host listens there');
}

/**
 * Publishes an instance's ports by kernel forwarding: one DNAT rule per mapping in isola's
 * nftables table, to `targetIp` (the instance's address on its first network). Ports still 0
 * get a free one (the kernel's choice of an ephemeral port, not published by another instance).
 * Checks and rules are made under the host-wide network lock, so two isola processes never
 * publish the same port. Resolves with the mappings as published.
 */
export async function publishPorts(instanceId: string, maps: readonly PortMapping[], targetIp: string): Promise<PortMapping[]> {
  if (maps.length === 0) return [];
  return withNetLock(async () => {
    const st = await readTable();
    // Rules left by an earlier start of the same instance (a crash) are replaced.
    await deletePublishRules(instanceId, st);
    const others = st.publish.filter((p) => p.instanceId !== instanceId);
    const out: PortMapping[] = [];
    const claimed: PublishRule[] = [...others];
    for (const m of maps) {
      const auto = m.auto === true || m.hostPort === 0;
      const hostPort = auto ? await freePort(m, claimed) : m.hostPort;
      const mapping: PortMapping = { ...m, hostPort, protocol: protocolOf(m), ...(auto ? { auto: true } : {}) };
      await assertPortFree(mapping, claimed);
      const rule: PublishRule = { instanceId, protocol: protocolOf(mapping), hostIp: m.hostIp, hostPort, targetIp, targetPort: m.instancePort };
      claimed.push(rule);
      out.push(mapping);
    }
    await addPublishRules(claimed.slice(others.length));
    return out;
  });
}

async function freePort(m: PortMapping, claimed: readonly PublishRule[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await bindable(m.hostIp, 0, protocolOf(m));
    if (p !== null && !claimed.some((r) => r.hostPort === p && r.protocol === protocolOf(m) && overlaps(r, m))) return p;
  }
  throw new IsolaError('RESOURCE_EXHAUSTED', `no free host port for ${m.instancePort}/${protocolOf(m)}`, 'give a host port with -p HOST_PORT:PORT');
}

/** Removes every published port of an instance (found by its id in the rules' comments). Idempotent. */
export async function unpublishPorts(instanceId: string): Promise<void> {
  await withNetLock(async () => {
    await deletePublishRules(instanceId);
  });
}

/** Stops the socat forwarders an older isola started for an instance. Idempotent. */
export function stopForwarders(fw: readonly (PortMapping | Forwarder)[]): void {
  for (const f of fw) {
    if (!('pid' in f)) continue;
    if (!processAlive(f.pid, { cmdlineIncludes: `TCP-LISTEN:${f.hostPort},` })) continue; // never signal a recycled pid
    try {
      // The whole process group: socat's forked children serving open connections too.
      process.kill(-f.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
}
