import type { StackModel } from './model.js';

/** The file as isola runs it: Compose's own keys, with what isola resolved (kind, replicas, project names). */
export function resolvedFile(model: StackModel): unknown {
  return escapeDollars({
    name: model.project,
    services: Object.fromEntries(model.services.map((s) => [s.name, {
      image: s.image,
      ...(s.build ? { build: { context: s.build.context, ...(s.build.dockerfile ? { dockerfile: s.build.dockerfile } : {}), ...(Object.keys(s.build.args).length ? { args: s.build.args } : {}), ...(s.build.target ? { target: s.build.target } : {}) } } : {}),
      'x-isola-kind': s.kind,
      ...(s.entrypoint ? { entrypoint: s.entrypoint } : {}),
      ...(s.command ? { command: s.command } : {}),
      ...(s.environment.length ? { environment: Object.fromEntries(s.environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) } : {}),
      ...(s.ports.length ? { ports: s.ports.map((p) => ({ target: p.instancePort, ...(p.hostPort ? { published: String(p.hostPort) } : {}), host_ip: p.hostIp, protocol: p.protocol ?? 'tcp' })) } : {}),
      ...(s.volumes.length ? { volumes: s.volumes.map((v) => ({ type: v.type, ...('source' in v && v.source ? { source: v.type === 'volume' ? (model.volumes.find((x) => x.name === v.source)?.key ?? v.source) : v.source } : {}), target: v.target, ...(v.readOnly ? { read_only: true } : {}) })) } : {}),
      networks: s.networks,
      ...(s.dependsOn.length ? { depends_on: Object.fromEntries(s.dependsOn.map((d) => [d.service, { condition: d.condition, required: d.required }])) } : {}),
      ...(s.health ? { healthcheck: s.health.none ? { disable: true } : { ...(s.health.cmd ? { test: ['CMD-SHELL', s.health.cmd] } : {}), ...(s.health.interval ? { interval: s.health.interval } : {}), ...(s.health.timeout ? { timeout: s.health.timeout } : {}), ...(s.health.retries ? { retries: Number(s.health.retries) } : {}), ...(s.health.startPeriod ? { start_period: s.health.startPeriod } : {}) } } : {}),
      ...(s.restart ? { restart: s.restart } : {}),
      deploy: { replicas: s.replicas, ...(s.memoryBytes || s.cpus || s.pidsLimit ? { resources: { limits: { ...(s.cpus ? { cpus: String(s.cpus) } : {}), ...(s.memoryBytes ? { memory: String(s.memoryBytes) } : {}), ...(s.pidsLimit ? { pids: s.pidsLimit } : {}) } } } : {}) },
      ...(Object.keys(s.labels).length ? { labels: s.labels } : {}),
      ...(s.workdir ? { working_dir: s.workdir } : {}),
      ...(s.user !== undefined ? { user: s.user } : {}),
      ...(s.hostname ? { hostname: s.hostname } : {}),
      ...(s.stopSignal ? { stop_signal: s.stopSignal } : {}),
      ...(s.stopTimeout !== undefined ? { stop_grace_period: `${s.stopTimeout}s` } : {}),
      ...(s.readOnly !== undefined ? { read_only: s.readOnly } : {}),
      ...(s.init !== undefined ? { init: s.init } : {}),
      ...(s.privileged !== undefined ? { privileged: s.privileged } : {}),
      ...(s.capAdd ? { cap_add: s.capAdd } : {}),
      ...(s.capDrop ? { cap_drop: s.capDrop } : {}),
      ...(s.extraHosts ? { extra_hosts: s.extraHosts } : {}),
      ...(s.profiles.length ? { profiles: s.profiles } : {}),
    }])),
    networks: Object.fromEntries(model.networks.map((n) => [n.key, { name: n.name, ...(n.external ? { external: true } : {}), ...(n.subnet ? { ipam: { config: [{ subnet: n.subnet }] } } : {}) }])),
    ...(model.volumes.length ? { volumes: Object.fromEntries(model.volumes.map((v) => [v.key, { name: v.name, ...(v.external ? { external: true } : {}) }])) } : {}),
  });
}

/** `$` as `$$`: the file printed is read again with interpolation, and a value must come back as it is. */
function escapeDollars(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$/g, '$$$$');
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeDollars(x)]));
  return v;
}
