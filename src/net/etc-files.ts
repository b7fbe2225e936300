import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { invalid } from '../core/errors.js';
import type { BridgeNetworkSpec, DnsSettings, HostEntry, InstanceSpec } from '../core/types.js';

/**
 * An instance's /etc/hostname, /etc/hosts and /etc/resolv.conf. They live in the instance's
 * folder (`<dir>/etc/`), written by the engine and rewritten in place when the instances of
 * its networks change; a container bind-mounts them, a VM's init gets them in its config and,
 * while it runs, through its agent (the guest bind-mounts its own copies over the image's).
 */
export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolv: string;
}

export const etcDir = (spec: InstanceSpec): string => path.join(spec.dir, 'etc');

/** Another instance on one of the instance's user networks: resolvable by its name. */
export interface Peer {
  name: string;
  ip: string;
  network: string;
}

// ---- resolv.conf --------------------------------------------------------------------------

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const r: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...words] = line.split(/\s+/);
    if (key === 'nameserver' && words[0]) r.nameservers.push(words[0]);
    else if (key === 'search' || key === 'domain') r.search = words;
    else if (key === 'options') r.options.push(...words);
  }
  return r;
}

/** Instances cannot reach the host's loopback, and have no IPv6: those nameservers are left out. */
export const usableNameserver = (ip: string): boolean => net.isIPv4(ip) && !ip.startsWith('127.');

/**
 * Where the host's resolver configuration is read from: /etc/resolv.conf, or, when that names only
 * loopback resolvers and systemd-resolved is in use, the upstream servers it lists itself (as
 * Docker does).
 */
export const HOST_RESOLV = '/etc/resolv.conf';
export const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

export function readHostResolv(files: { main?: string; upstream?: string } = {}): ResolvConf {
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const main = parseResolvConf(read(files.main ?? HOST_RESOLV));
  if (main.nameservers.some(usableNameserver)) return main;
  const upstream = parseResolvConf(read(files.upstream ?? RESOLVED_UPSTREAM));
  return upstream.nameservers.some(usableNameserver) ? { ...upstream, search: main.search.length ? main.search : upstream.search } : main;
}

/**
 * An instance's resolv.conf: the host's, without loopback (and IPv6) nameservers; --dns,
 * --dns-search and --dns-option each replace the host's list. When no nameserver is left, none
 * is written, with a comment saying why: isola never picks a public resolver on its own.
 */
export function resolvConf(host: ResolvConf, dns: DnsSettings | undefined): string {
  const servers = dns?.servers.length ? dns.servers : host.nameservers.filter(usableNameserver);
  const search = dns?.search.length ? dns.search.filter((s) => s !== '.') : host.search;
  const options = dns?.options.length ? dns.options : host.options;
  const lines = [dns?.servers.length ? '# isola: nameservers from --dns' : '# isola: from the host\'s resolv.conf, loopback nameservers left out (instances cannot reach them)'];
  if (servers.length === 0) lines.push('# no nameserver: the host has none an instance can reach; give one with --dns');
  for (const s of servers) lines.push(`nameserver ${s}`);
  if (search.length) lines.push(`search ${search.join(' ')}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

// ---- hosts ---------------------------------------------------------------------------------

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$/;

/**
 * `--add-host NAME:IP` (also NAME=IP, Docker's newer spelling). IP may be IPv4, IPv6 or
 * `host-gateway`: the gateway of the instance's network (the host as the instance reaches it).
 */
export function parseAddHost(text: string): HostEntry {
  const m = /^([^:=]+)[:=](.+)$/.exec(text);
  const host = m?.[1] ?? '';
  const ip = (m?.[2] ?? '').replace(/^\[(.*)\]$/, '$1');
  if (!m || !HOSTNAME.test(host)) throw invalid(`invalid --add-host "${text}"`, 'use --add-host NAME:IP, e.g. --add-host db:10.0.0.5');
  if (ip !== 'host-gateway' && !net.isIP(ip)) throw invalid(`invalid --add-host "${text}": "${ip}" is not an IP address`, 'use --add-host NAME:IP with an IPv4 or IPv6 address, or NAME:host-gateway');
  return { host, ip };
}

/** `--dns IP`: an IPv4 address (instances have no IPv6). */
export function checkDnsServer(text: string): string {
  if (!net.isIPv4(text)) throw invalid(`invalid --dns "${text}"`, 'give the IPv4 address of a nameserver, e.g. --dns 10.0.0.2');
  return text;
}

/** `--dns-search DOMAIN` (`.` for none). */
export function checkDnsSearch(text: string): string {
  if (text !== '.' && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(text)) throw invalid(`invalid --dns-search "${text}"`, 'give a domain name such as example.internal, or . for none');
  return text;
}

/** `--dns-option OPT` as resolv.conf's options (ndots:2, timeout:1, edns0, ...). */
export function checkDnsOption(text: string): string {
  if (!/^[a-z][a-z0-9-]*(:\d+)?$/.test(text)) throw invalid(`invalid --dns-option "${text}"`, 'give a resolv.conf option such as ndots:2 or edns0');
  return text;
}

export function bridgeNetworks(spec: InstanceSpec): BridgeNetworkSpec[] {
  return spec.network.mode === 'bridge' ? [spec.network, ...(spec.moreNetworks ?? [])] : [...(spec.moreNetworks ?? [])];
}

/**
 * /etc/hosts: localhost, the instance's own address with its hostname and name, the --add-host
 * entries, then the other instances of its user networks by name (the default network `bridge`
 * has no names, as Docker's has none).
 */
export function hostsFile(spec: InstanceSpec, peers: readonly Peer[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const nets = bridgeNetworks(spec);
  const own = [...new Set([spec.hostname, spec.name, ...(spec.aliases ?? [])])].join(' ');
  if (nets[0]) lines.push(`${nets[0].ip}\t${own}`);
  for (const h of spec.extraHosts ?? []) lines.push(`${h.ip === 'host-gateway' ? (nets[0]?.gateway ?? '127.0.0.1') : h.ip}\t${h.host}`);
  // A name shared by several (a compose service's replicas) answers with the first: its own, else the oldest peer's.
  const seen = new Set<string>([spec.name, ...(spec.aliases ?? [])]);
  let network = '';
  for (const p of peers) {
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    if (p.network !== network) lines.push(`# network ${(network = p.network)}`);
    lines.push(`${p.ip}\t${p.name}`);
  }
  return `${lines.join('\n')}\n`;
}

export function etcFilesFor(spec: InstanceSpec, peers: readonly Peer[], host: ResolvConf): EtcFiles {
  return { hostname: `${spec.hostname}\n`, hosts: hostsFile(spec, peers), resolv: resolvConf(host, spec.dns) };
}

/**
 * Writes the files in place (same inodes: a container's bind mounts keep seeing them). Resolves
 * whether anything changed.
 */
export function writeEtcFiles(spec: InstanceSpec, files: EtcFiles): boolean {
  const dir = etcDir(spec);
  fs.mkdirSync(dir, { recursive: true });
  let changed = false;
  for (const [name, text] of [['hostname', files.hostname], ['hosts', files.hosts], ['resolv.conf', files.resolv]] as const) {
    const file = path.join(dir, name);
    let old: string | null = null;
    try {
      old = fs.readFileSync(file, 'utf8');
    } catch {
      /* new */
    }
    if (old === text) continue;
    fs.writeFileSync(file, text, { mode: 0o644 });
    changed = true;
  }
  return changed;
}

export function readEtcFiles(spec: InstanceSpec): EtcFiles | null {
  const dir = etcDir(spec);
  try {
    return {
      hostname: fs.readFileSync(path.join(dir, 'hostname'), 'utf8'),
      hosts: fs.readFileSync(path.join(dir, 'hosts'), 'utf8'),
      resolv: fs.readFileSync(path.join(dir, 'resolv.conf'), 'utf8'),
    };
  } catch {
    return null;
  }
}

/** The files as they are, or, for an instance made without the engine (tests, the bench), made from its spec alone. */
export function ensureEtcFiles(spec: InstanceSpec): EtcFiles {
  const have = readEtcFiles(spec);
  if (have) return have;
  const files = etcFilesFor(spec, [], readHostResolv());
  writeEtcFiles(spec, files);
  return files;
}
