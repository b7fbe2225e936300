import type { Call, Router } from './router.js';
import { SEGMENT } from './router.js';
import { badRequest } from './errors.js';
import { readJson, sendEmpty, sendJson } from './http.js';
import type { NetworkView } from '../engine/networks.js';
import { isValidName } from '../engine/names.js';

function view(n: NetworkView): Record<string, unknown> {
  return {
    Name: n.name, Id: n.id, Created: n.createdAt ?? '0001-01-01T00:00:00Z', Scope: 'local', Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [] },
    Internal: false, Attachable: false, Ingress: false, ConfigOnly: false,
    Containers: Object.fromEntries(n.instances.map((i) => [i.id, { Name: i.name, EndpointID: '', MacAddress: i.mac, IPv4Address: i.ip, IPv6Address: '' }])),
    Options: n.bridge ? { 'com.docker.network.bridge.name': n.bridge } : {}, Labels: {},
  };
}

function ref(c: Call): string {
  const r = c.params[0] ?? '';
  if (!isValidName(r)) throw badRequest(`invalid network name or id "${r.slice(0, 80)}"`);
  return r;
}

function list(c: Call): void {
  const f = c.query.filters(['name', 'id', 'driver', 'type', 'label', 'scope']);
  let nets = c.api.engine.networks.list();
  const names = f.get('name');
  if (names) nets = nets.filter((n) => names.some((x) => n.name.includes(x)));
  const ids = f.get('id');
  if (ids) nets = nets.filter((n) => ids.some((x) => n.id.startsWith(x)));
  sendJson(c.res, 200, nets.map(view));
}

async function create(c: Call): Promise<void> {
  const body = await readJson(c.req);
  const name = body.Name;
  if (typeof name !== 'string' || !name) throw badRequest('Name is required');
  if (body.Driver && body.Driver !== 'bridge') throw badRequest(`network driver ${String(body.Driver).slice(0, 40)} is not supported: isola makes bridge networks`);
  if (body.Internal || body.EnableIPv6 || body.Attachable || body.Ingress) throw badRequest('Internal, EnableIPv6, Attachable and Ingress networks are not supported');
  const ipam = (body.IPAM ?? {}) as { Config?: { Subnet?: unknown; Gateway?: unknown }[] };
  if (typeof ipam !== 'object' || (ipam.Config !== undefined && ipam.Config !== null && !Array.isArray(ipam.Config))) throw badRequest('IPAM.Config must be a list');
  if ((ipam.Config ?? []).length > 1) throw badRequest('isola networks have one subnet');
  const cfg = ipam.Config?.[0] ?? {};
  for (const k of ['Subnet', 'Gateway'] as const) if (cfg[k] !== undefined && typeof cfg[k] !== 'string') throw badRequest(`IPAM.Config[0].${k} must be a string`);
  const rec = await c.api.engine.networks.create(name, { ...(cfg.Subnet ? { subnet: cfg.Subnet as string } : {}), ...(cfg.Gateway ? { gateway: cfg.Gateway as string } : {}) });
  sendJson(c.res, 201, { Id: rec.id, Warning: '' });
}

export function register(r: Router): void {
  r.add('GET', '/networks', list)
    .add('POST', '/networks/create', create)
    .add('GET', `/networks/${SEGMENT}`, (c) => sendJson(c.res, 200, view(c.api.engine.networks.inspect(ref(c)))))
    .add('DELETE', `/networks/${SEGMENT}`, async (c) => {
      await c.api.engine.networks.remove(ref(c));
      sendEmpty(c.res, 204);
    });
}
