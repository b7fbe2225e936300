import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { invalid } from '../core/errors.js';
import type { Kind } from '../core/types.js';
import { parseBytes, parseCpus } from '../core/units.js';
import { parsePublish, protocolOf, type PortMapping } from '../net/publish.js';
import type { MountRequest } from '../engine/mount-flags.js';
import { resolveHealth, type HealthFlags } from '../engine/health.js';
import { parseRestartPolicy } from '../engine/restart-policy.js';
import { InterpolationError, interpolate, parseEnvText } from './interpolate.js';
import { displayPath, type LoadedFile } from './load.js';

/** How one service waits for another before it starts (depends_on's condition). */
export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

/** A network of the stack: its key in the file and the isola network it is. */
export interface NetworkModel {
  key: string;
  /** The isola network's name: `<project>_<key>`, or `name:` / the external network's own. */
  name: string;
  external: boolean;
  subnet?: string;
}

export interface VolumeModel {
  key: string;
  name: string;
  external: boolean;
}

export interface BuildModel {
  context: string;
  dockerfile?: string;
  args: Record<string, string>;
  target?: string;
}

/**
 * One service, resolved: everything its instances are made from. Its JSON (less `replicas` and
 * `profiles`) is what the config hash covers, so any change here recreates its instances.
 */
export interface ServiceModel {
  name: string;
  kind: Kind;
  /** The image to run: `image:`, else `<project>-<service>` (what `build:` tags). */
  image: string;
  build?: BuildModel;
  command?: string[];
  /** Absent: the image's; [] clears it (entrypoint: []). */
  entrypoint?: string[];
  environment: string[];
  ports: PortMapping[];
  volumes: MountRequest[];
  /** Keys of the stack's networks, in order; the first is the one it is created on. */
  networks: string[];
  dependsOn: { service: string; condition: DependsCondition; required: boolean }[];
  health?: HealthFlags;
  restart?: string;
  replicas: number;
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number;
  labels: Record<string, string>;
  profiles: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  stopSignal?: string;
  stopTimeout?: number;
  readOnly?: boolean;
  init?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  extraHosts?: string[];
  /** x-isola-machine: the machine (isola machine create) whose VM hosts this service's containers. */
  machine?: string;
}

export interface StackModel {
  project: string;
  file: string;
  dir: string;
  services: ServiceModel[];
  networks: NetworkModel[];
  volumes: VolumeModel[];
}

/** Top-level keys isola compose reads; `version` is obsolete and ignored, `x-*` are extensions. */
const TOP_KEYS = new Set(['name', 'version', 'services', 'networks', 'volumes']);
/**
 * The service keys isola compose applies. Any other key the Compose Specification allows is
 * refused with its location rather than ignored: a stack must not silently run differently.
 */
export const SERVICE_KEYS = new Set(['image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'volumes', 'networks',
  'depends_on', 'healthcheck', 'restart', 'deploy', 'labels', 'profiles', 'runtime', 'x-isola-kind', 'x-isola-machine', 'working_dir', 'user', 'hostname',
  'stop_signal', 'stop_grace_period', 'read_only', 'init', 'privileged', 'cap_add', 'cap_drop', 'extra_hosts', 'mem_limit', 'cpus', 'pids_limit', 'scale']);
const DEPLOY_KEYS = new Set(['replicas', 'resources']);
const KINDS: readonly Kind[] = ['container', 'vm', 'hybrid'];

/** Compose's rule for project names: lower case letters, digits, dashes and underscores, starting with a letter or digit. */
export function normalizeProjectName(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

export function projectName(given: string | undefined, file: LoadedFile, env: ReadonlyMap<string, string>): string {
  const fromFile = typeof file.data.name === 'string' ? file.data.name : undefined;
  const raw = given ?? env.get('COMPOSE_PROJECT_NAME') ?? fromFile ?? path.basename(file.dir);
  const name = given !== undefined || fromFile !== undefined ? raw : normalizeProjectName(raw);
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
    throw invalid(`invalid project name "${raw}"`, 'use lower case letters, digits, - and _, starting with a letter or digit (-p NAME)');
  }
  return name;
}

type Raw = Record<string, unknown>;
const isRecord = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Builds the stack's model from a validated file; `profiles` enables services that name one. */
export function buildModel(file: LoadedFile, project: string, profiles: readonly string[]): StackModel {
  const fail = (at: (string | number)[], message: string, hint: string, key = false) => invalid(`${file.where(at, key)}: ${displayPath(at)} ${message}`, hint);
  for (const k of Object.keys(file.data)) {
    if (!TOP_KEYS.has(k) && !k.startsWith('x-')) throw fail([k], 'is not supported by isola compose', 'remove it (docs/COMPOSE.md lists what isola compose reads)', true);
  }
  const networks = namedObjects(file, 'networks', project, fail).map(({ key, name, external, body }) => {
    for (const k of Object.keys(body)) {
      if (!['name', 'external', 'driver', 'ipam'].includes(k) && !k.startsWith('x-')) throw fail(['networks', key, k], 'is not supported by isola compose', 'remove it; isola networks are bridges with their own subnet', true);
    }
    if (body.driver !== undefined && body.driver !== 'bridge') throw fail(['networks', key, 'driver'], `"${String(body.driver)}" is not a driver isola has`, 'use driver: bridge or leave it out');
    const ipam = isRecord(body.ipam) ? body.ipam : undefined;
    const config = Array.isArray(ipam?.config) ? (ipam.config[0] as Raw | undefined) : undefined;
    const subnet = typeof config?.subnet === 'string' ? config.subnet : undefined;
    return { key, name, external, ...(subnet ? { subnet } : {}) } satisfies NetworkModel;
  });
  const volumes = namedObjects(file, 'volumes', project, fail).map(({ key, name, external, body }) => {
    for (const k of Object.keys(body)) {
      if (!['name', 'external'].includes(k) && !k.startsWith('x-')) throw fail(['volumes', key, k], 'is not supported by isola compose', 'remove it; isola volumes are local folders', true);
    }
    return { key, name, external } satisfies VolumeModel;
  });
  const rawServices = isRecord(file.data.services) ? file.data.services : {};
  const all = Object.entries(rawServices).map(([name, body]) => serviceModel(file, project, name, isRecord(body) ? body : {}, networks, volumes, fail));
  const enabled = all.filter((s) => s.profiles.length === 0 || s.profiles.some((p) => profiles.includes(p)));
  const names = new Set(enabled.map((s) => s.name));
  for (const s of enabled) {
    for (const d of s.dependsOn) {
      if (names.has(d.service)) continue;
      const exists = all.some((o) => o.name === d.service);
      if (d.required || !exists) {
        throw fail(['services', s.name, 'depends_on'], `names service "${d.service}", which ${exists ? 'is in a profile not enabled' : 'the file does not have'}`,
          exists ? `enable its profile with --profile, or drop the dependency` : 'fix the name or add the service');
      }
    }
    s.dependsOn = s.dependsOn.filter((d) => names.has(d.service));
  }
  if (enabled.length === 0) throw invalid(`${file.where([])}: no service to run${all.length ? ' (every one is in a profile not enabled)' : ''}`, 'add services, or enable a profile with --profile');
  // Networks and volumes no enabled service uses are not made (Compose makes only what is used).
  const usedNets = new Set(enabled.flatMap((s) => s.networks));
  return { project, file: file.file, dir: file.dir, services: enabled, networks: networks.filter((n) => usedNets.has(n.key)), volumes };
}

type Fail = (at: (string | number)[], message: string, hint: string, key?: boolean) => Error;

function namedObjects(file: LoadedFile, section: 'networks' | 'volumes', project: string, fail: Fail) {
  const raw = file.data[section];
  const out: { key: string; name: string; external: boolean; body: Raw }[] = [];
  if (section === 'networks') out.push({ key: 'default', name: `${project}_default`, external: false, body: {} });
  if (!isRecord(raw)) return out;
  for (const [key, v] of Object.entries(raw)) {
    const body = isRecord(v) ? v : {};
    const external = body.external === true || isRecord(body.external);
    const name = typeof body.name === 'string' ? body.name : external ? key : `${project}_${key}`;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw fail([section, key], `gives the name "${name}", which isola cannot use`, 'use letters, digits, _ . and -');
    const i = out.findIndex((o) => o.key === key);
    if (i >= 0) out.splice(i, 1);
    out.push({ key, name, external, body });
  }
  return out;
}

function serviceModel(file: LoadedFile, project: string, name: string, b: Raw, networks: NetworkModel[], volumes: VolumeModel[], fail: Fail): ServiceModel {
  const at = (...p: (string | number)[]) => ['services', name, ...p];
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw fail(at(), 'is not a service name isola can use', 'use letters, digits, _ . and -, starting with a letter or digit', true);
  for (const k of Object.keys(b)) {
    if (!SERVICE_KEYS.has(k) && !k.startsWith('x-')) throw fail(at(k), 'is not supported by isola compose', 'remove it (docs/COMPOSE.md lists the service keys isola compose applies)', true);
  }
  let kind = serviceKind(b, at, fail);
  const machine = machineOf(b, kind, at, fail);
  if (machine) kind = 'hybrid';
  if (b.image === undefined && b.build === undefined) throw fail(at(), 'has neither image nor build', 'give the image to run (image: NAME) or how to build it (build: FOLDER)', true);
  const build = b.build === undefined ? undefined : buildModel_(file, b.build, at('build'), fail);
  const image = typeof b.image === 'string' ? b.image : `${project}-${name}`;
  const environment = [...envFiles(file, b.env_file, at('env_file'), fail), ...envList(b.environment, file.vars)];
  const ports = portList(b.ports, at('ports'), fail);
  const replicas = replicaCount(b, at, fail);
  // A fixed host port with several replicas is fine: the service publishes it, spread over them (front.ts).
  const limits = isRecord(b.deploy) && isRecord(b.deploy.resources) && isRecord(b.deploy.resources.limits) ? b.deploy.resources.limits : {};
  const memory = limits.memory ?? b.mem_limit;
  const cpus = limits.cpus ?? b.cpus;
  const pids = limits.pids ?? b.pids_limit;
  const svc: ServiceModel = {
    name,
    kind,
    image,
    ...(build ? { build } : {}),
    ...(b.command !== undefined && b.command !== null ? { command: words(b.command, at('command'), fail) } : {}),
    ...(b.entrypoint !== undefined && b.entrypoint !== null ? { entrypoint: words(b.entrypoint, at('entrypoint'), fail) } : {}),
    environment,
    ports,
    volumes: volumeList(file, b.volumes, volumes, at('volumes'), fail),
    networks: networkList(b.networks, networks, at('networks'), fail),
    dependsOn: dependsList(b.depends_on, at('depends_on'), fail),
    ...(b.healthcheck !== undefined ? { health: checkedHealth(healthFlags(b.healthcheck), at('healthcheck'), fail) } : {}),
    ...(typeof b.restart === 'string' ? { restart: restartText(b.restart, at('restart'), fail) } : {}),
    replicas,
    ...(memory !== undefined ? { memoryBytes: checked(() => parseBytes(String(memory), 'memory'), at('deploy', 'resources', 'limits', 'memory'), fail) } : {}),
    ...(cpus !== undefined ? { cpus: checked(() => parseCpus(String(cpus)), at('deploy', 'resources', 'limits', 'cpus'), fail) } : {}),
    ...(pids !== undefined ? { pidsLimit: Number(pids) } : {}),
    labels: keyValues(b.labels),
    profiles: Array.isArray(b.profiles) ? b.profiles.map(String) : [],
    ...(typeof b.working_dir === 'string' ? { workdir: b.working_dir } : {}),
    ...(b.user !== undefined ? { user: String(b.user) } : {}),
    ...(typeof b.hostname === 'string' ? { hostname: b.hostname } : {}),
    ...(typeof b.stop_signal === 'string' ? { stopSignal: b.stop_signal } : {}),
    ...(b.stop_grace_period !== undefined ? { stopTimeout: Math.ceil(durationMs(String(b.stop_grace_period), at('stop_grace_period'), fail) / 1000) } : {}),
    ...(b.read_only !== undefined ? { readOnly: b.read_only === true || b.read_only === 'true' } : {}),
    ...(b.init !== undefined ? { init: b.init === true || b.init === 'true' } : {}),
    ...(b.privileged !== undefined ? { privileged: b.privileged === true || b.privileged === 'true' } : {}),
    ...(Array.isArray(b.cap_add) ? { capAdd: b.cap_add.map(String) } : {}),
    ...(Array.isArray(b.cap_drop) ? { capDrop: b.cap_drop.map(String) } : {}),
    ...(machine ? { machine } : {}),
    ...(b.extra_hosts !== undefined ? { extraHosts: Array.isArray(b.extra_hosts) ? b.extra_hosts.map(String) : Object.entries(b.extra_hosts as Raw).map(([h, ip]) => `${h}:${String(ip)}`) } : {}),
  };
  return svc;
}

/**
 * x-isola-machine: NAME places the service's containers in that machine's VM (as run --machine),
 * so a stack can put its database and API in a "prod" machine and a tool in a "dev" one. What a
 * placed container cannot have is refused here, with its place in the file.
 */
function machineOf(b: Raw, kind: Kind, at: (...p: (string | number)[]) => (string | number)[], fail: Fail): string | undefined {
  const m = b['x-isola-machine'];
  if (m === undefined || m === null) return undefined;
  if (typeof m !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(m)) throw fail(at('x-isola-machine'), 'must name a machine (letters, digits, _ . and -)', 'give the name of a machine from isola machine ls');
  if (kind === 'vm') throw fail(at('x-isola-machine'), 'places containers in a machine, while the kind is vm', 'drop x-isola-kind: vm (a service in a machine is a container inside its VM), or drop x-isola-machine');
  if (b.volumes !== undefined) throw fail(at('volumes'), `cannot be mounted into containers in machine ${m}: folders and volumes do not reach a machine yet`, 'drop volumes: from this service, or run it without x-isola-machine');
  return m;
}

/** The health flags, checked now as `run --health-*` would be at create. */
function checkedHealth(flags: HealthFlags, at: (string | number)[], fail: Fail): HealthFlags {
  checked(() => resolveHealth(undefined, flags), at, fail);
  return flags;
}

/** restart: no, always, on-failure[:N] or unless-stopped, checked as --restart is. */
function restartText(text: string, at: (string | number)[], fail: Fail): string {
  checked(() => parseRestartPolicy(text), at, fail);
  return text;
}

function checked<T>(fn: () => T, at: (string | number)[], fail: Fail): T {
  try {
    return fn();
  } catch (e) {
    throw fail(at, `is not valid: ${(e as Error).message}`, (e as { hint?: string }).hint ?? 'see docs/COMPOSE.md');
  }
}

/** x-isola-kind or runtime: container, vm or hybrid (runtime's OCI names runc/crun mean container). */
function serviceKind(b: Raw, at: (...p: (string | number)[]) => (string | number)[], fail: Fail): Kind {
  const fromExt = b['x-isola-kind'];
  const fromRuntime = b.runtime;
  const parse = (v: unknown, key: string): Kind => {
    const text = String(v);
    if (key === 'runtime' && (text === 'runc' || text === 'crun')) return 'container';
    if ((KINDS as readonly string[]).includes(text)) return text as Kind;
    throw fail(at(key), `"${text}" is not a kind isola runs`, `use ${KINDS.join(', ')}${key === 'runtime' ? ' (or runc)' : ''}`);
  };
  const a = fromExt !== undefined ? parse(fromExt, 'x-isola-kind') : undefined;
  const r = fromRuntime !== undefined ? parse(fromRuntime, 'runtime') : undefined;
  if (a && r && a !== r) throw fail(at('runtime'), `says ${r} while x-isola-kind says ${a}`, 'keep one of the two keys (or make them agree)', true);
  return a ?? r ?? 'container';
}

function buildModel_(file: LoadedFile, raw: unknown, at: (string | number)[], fail: Fail): BuildModel {
  const b = isRecord(raw) ? raw : { context: raw };
  for (const k of Object.keys(b)) {
    if (!['context', 'dockerfile', 'args', 'target'].includes(k) && !k.startsWith('x-')) throw fail([...at, k], 'is not supported by isola compose', 'remove it (isola builds with context, dockerfile, args and target)', true);
  }
  const context = path.resolve(file.dir, typeof b.context === 'string' ? b.context : '.');
  if (!fs.existsSync(context)) throw fail([...at], `names the folder ${context}, which does not exist`, 'fix the build context path');
  return {
    context,
    ...(typeof b.dockerfile === 'string' ? { dockerfile: path.resolve(context, b.dockerfile) } : {}),
    args: Object.fromEntries(Object.entries(keyValues(b.args)).map(([k, v]) => [k, v])),
    ...(typeof b.target === 'string' ? { target: b.target } : {}),
  };
}

/** A command given as a string is split like a shell's words (quotes kept together), as Compose does; a list is taken as is. */
export function words(raw: unknown, at: (string | number)[], fail: Fail): string[] {
  if (Array.isArray(raw)) return raw.map(String);
  const text = String(raw);
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw fail(at, `has an unclosed ${quote} quote`, 'close the quote, or give the command as a list');
  if (inWord) out.push(cur);
  return out;
}

function keyValues(raw: unknown): Record<string, string> {
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map(String).map((e) => {
      const i = e.indexOf('=');
      return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
    }));
  }
  if (isRecord(raw)) return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]));
  return {};
}

/** environment: a map or a list; a key without a value takes it from the variables (or is left out), as in Compose. */
function envList(raw: unknown, vars: ReadonlyMap<string, string>): string[] {
  const entries: [string, string | null][] = Array.isArray(raw)
    ? raw.map(String).map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, null]))
    : isRecord(raw) ? Object.entries(raw).map(([k, v]) => [k, v === null ? null : String(v)]) : [];
  const out: string[] = [];
  for (const [k, v] of entries) {
    const value = v ?? vars.get(k);
    if (value !== undefined) out.push(`${k}=${value}`);
  }
  return out;
}

function envFiles(file: LoadedFile, raw: unknown, at: (string | number)[], fail: Fail): string[] {
  if (raw === undefined) return [];
  const items = (Array.isArray(raw) ? raw : [raw]).map((r) => (isRecord(r) ? { path: String(r.path), required: r.required !== false } : { path: String(r), required: true }));
  const out: string[] = [];
  items.forEach((item, i) => {
    const p = path.resolve(file.dir, item.path);
    if (!fs.existsSync(p)) {
      if (!item.required) return;
      throw fail(Array.isArray(raw) ? [...at, i] : at, `names ${p}, which does not exist`, 'create the file, fix the path, or mark it required: false');
    }
    try {
      for (const [k, v] of parseEnvText(fs.readFileSync(p, 'utf8'))) out.push(`${k}=${interpolate(v, file.vars)}`);
    } catch (e) {
      if (!(e instanceof InterpolationError)) throw e;
      throw fail(Array.isArray(raw) ? [...at, i] : at, `(${p}): ${e.message}`, 'write KEY=VALUE lines');
    }
  });
  return out;
}

function portList(raw: unknown, at: (string | number)[], fail: Fail): PortMapping[] {
  if (!Array.isArray(raw)) return [];
  const out: PortMapping[] = [];
  raw.forEach((p, i) => {
    let text: string;
    if (isRecord(p)) {
      const published = p.published !== undefined ? String(p.published) : '';
      text = `${p.host_ip !== undefined ? `${String(p.host_ip)}:` : ''}${published !== '' ? `${published}:` : p.host_ip !== undefined ? ':' : ''}${String(p.target)}${p.protocol ? `/${String(p.protocol)}` : ''}`;
    } else {
      text = String(p);
    }
    out.push(...checked(() => parsePublish(text), [...at, i], fail));
  });
  return out;
}

function replicaCount(b: Raw, at: (...p: (string | number)[]) => (string | number)[], fail: Fail): number {
  const deploy = isRecord(b.deploy) ? b.deploy : {};
  for (const k of Object.keys(deploy)) {
    if (!DEPLOY_KEYS.has(k) && !k.startsWith('x-')) throw fail(at('deploy', k), 'is not supported by isola compose', 'remove it (isola reads deploy.replicas and deploy.resources.limits)', true);
  }
  const resources = isRecord(deploy.resources) ? deploy.resources : {};
  for (const k of Object.keys(resources)) {
    if (k !== 'limits' && !k.startsWith('x-')) throw fail(at('deploy', 'resources', k), 'is not supported by isola compose', 'use deploy.resources.limits (cpus, memory, pids)', true);
  }
  const limits = isRecord(resources.limits) ? resources.limits : {};
  for (const k of Object.keys(limits)) {
    if (!['cpus', 'memory', 'pids'].includes(k) && !k.startsWith('x-')) throw fail(at('deploy', 'resources', 'limits', k), 'is not supported by isola compose', 'isola applies cpus, memory and pids limits', true);
  }
  const n = deploy.replicas ?? b.scale;
  if (n === undefined) return 1;
  const v = Number(n);
  if (!Number.isInteger(v) || v < 0) throw fail(deploy.replicas !== undefined ? at('deploy', 'replicas') : at('scale'), `asks for ${String(n)} replicas`, 'give a whole number, 0 or more');
  return v;
}

function volumeList(file: LoadedFile, raw: unknown, declared: VolumeModel[], at: (string | number)[], fail: Fail): MountRequest[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((v, i): MountRequest => {
    const here = [...at, i];
    let type: string;
    let source: string | undefined;
    let target: string;
    let readOnly = false;
    if (isRecord(v)) {
      type = String(v.type);
      source = v.source !== undefined ? String(v.source) : undefined;
      target = String(v.target);
      readOnly = v.read_only === true;
      if (type === 'tmpfs') {
        const size = isRecord(v.tmpfs) && v.tmpfs.size !== undefined ? parseBytes(String(v.tmpfs.size), 'tmpfs size') : undefined;
        return { type: 'tmpfs', target, readOnly, noExec: false, ...(size ? { sizeBytes: size } : {}) };
      }
    } else {
      const parts = String(v).split(':');
      if (parts.length === 1) {
        type = 'volume';
        target = parts[0] ?? '';
      } else {
        source = parts[0];
        target = parts[1] ?? '';
        const mode = parts[2] ?? '';
        if (parts.length > 3 || !['', 'ro', 'rw'].includes(mode)) throw fail(here, `"${String(v)}" is not SOURCE:TARGET[:ro|rw]`, 'write it as SOURCE:TARGET or SOURCE:TARGET:ro');
        readOnly = mode === 'ro';
        type = /^(\.|\/|~)/.test(source ?? '') ? 'bind' : 'volume';
      }
    }
    if (!target.startsWith('/')) throw fail(here, `targets "${target}", which is not an absolute path`, 'give the path inside the instance from /');
    if (type === 'bind') {
      const src = (source ?? '').startsWith('~') ? path.join(os.homedir(), (source ?? '').slice(1)) : path.resolve(file.dir, source ?? '');
      return { type: 'bind', source: src, target, readOnly, createSource: true };
    }
    if (type !== 'volume') throw fail(here, `has type "${type}", which isola compose does not mount`, 'use bind, volume or tmpfs');
    if (source === undefined || source === '') return { type: 'volume', target, readOnly };
    const vol = declared.find((d) => d.key === source);
    if (!vol) throw fail(here, `uses the volume "${source}", which the top-level volumes section does not declare`, `add it under volumes: (volumes: { ${source}: {} })`);
    return { type: 'volume', source: vol.name, target, readOnly };
  });
}

function networkList(raw: unknown, declared: NetworkModel[], at: (string | number)[], fail: Fail): string[] {
  const keys = Array.isArray(raw) ? raw.map(String) : isRecord(raw) ? Object.keys(raw) : ['default'];
  if (isRecord(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      for (const opt of Object.keys(isRecord(v) ? v : {})) {
        if (opt !== 'aliases' && !opt.startsWith('x-')) throw fail([...at, k, opt], 'is not supported by isola compose', 'remove it (the service is reached by its name on every network)', true);
      }
    }
  }
  for (const k of keys) if (!declared.some((d) => d.key === k)) throw fail(at, `names the network "${k}", which the top-level networks section does not declare`, `add it under networks: (networks: { ${k}: {} })`);
  return keys;
}

function dependsList(raw: unknown, at: (string | number)[], fail: Fail): ServiceModel['dependsOn'] {
  if (Array.isArray(raw)) return raw.map((s) => ({ service: String(s), condition: 'service_started' as const, required: true }));
  if (!isRecord(raw)) return [];
  return Object.entries(raw).map(([service, v]) => {
    const body = isRecord(v) ? v : {};
    const condition = (body.condition ?? 'service_started') as DependsCondition;
    if (body.restart !== undefined) throw fail([...at, service, 'restart'], 'is not supported by isola compose', 'remove it', true);
    return { service, condition, required: body.required !== false };
  });
}

/** healthcheck: test (string: CMD-SHELL; list: CMD, CMD-SHELL or NONE), the durations, disable. */
function healthFlags(raw: unknown): HealthFlags {
  const h = isRecord(raw) ? raw : {};
  if (h.disable === true) return { none: true };
  const out: HealthFlags = {};
  const test = h.test;
  if (typeof test === 'string') out.cmd = test;
  else if (Array.isArray(test)) {
    const [form, ...rest] = test.map(String);
    if (form === 'NONE') return { none: true };
    out.cmd = form === 'CMD-SHELL' ? rest.join(' ') : rest.map(shellQuote).join(' ');
  }
  if (h.interval !== undefined) out.interval = String(h.interval);
  if (h.timeout !== undefined) out.timeout = String(h.timeout);
  if (h.start_period !== undefined) out.startPeriod = String(h.start_period);
  if (h.start_interval !== undefined) out.startInterval = String(h.start_interval);
  if (h.retries !== undefined) out.retries = String(h.retries);
  return out;
}

const shellQuote = (s: string): string => (/^[A-Za-z0-9_\-./:=@%+,]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function durationMs(text: string, at: (string | number)[], fail: Fail): number {
  const m = /^((\d+(\.\d+)?)(h|m|s|ms|us)?)+$/.test(text) ? text : null;
  if (!m) throw fail(at, `"${text}" is not a duration`, 'write it like 10s, 1m30s or 500ms');
  let ms = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)?/g)) {
    const n = Number(part[1]);
    ms += n * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[part[2] ?? 's'] ?? 1000);
  }
  return ms;
}

/** Host ports two services both claim: one line naming both; the stack is left as it is. */
export function checkPortConflicts(model: StackModel, where: (at: (string | number)[]) => string = () => model.file): void {
  const seen: { service: string; p: PortMapping }[] = [];
  for (const s of model.services) {
    for (const [i, p] of s.ports.entries()) {
      if (p.hostPort === 0) continue;
      const other = seen.find((o) => o.p.hostPort === p.hostPort && protocolOf(o.p) === protocolOf(p) && (o.p.hostIp === p.hostIp || o.p.hostIp === '0.0.0.0' || p.hostIp === '0.0.0.0'));
      if (other && other.service !== s.name) {
        throw invalid(`${where(['services', s.name, 'ports', i])}: services ${other.service} and ${s.name} both publish host port ${p.hostPort}/${protocolOf(p)}`, 'give each service its own host port');
      }
      seen.push({ service: s.name, p });
    }
  }
}
