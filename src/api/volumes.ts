import type { Call, Router } from './router.js';
import { SEGMENT } from './router.js';
import { ApiError, badRequest } from './errors.js';
import { readJson, sendEmpty, sendJson } from './http.js';
import type { VolumeInfo } from '../engine/volumes.js';
import { checkVolumeName } from '../engine/mount-flags.js';

function view(v: VolumeInfo): Record<string, unknown> {
  return { Name: v.name, Driver: 'local', Mountpoint: v.mountpoint, CreatedAt: v.createdAt, Labels: v.labels, Scope: 'local', Options: {}, UsageData: null };
}

function name(c: Call): string {
  const n = c.params[0] ?? '';
  checkVolumeName(n, 'volume name');
  return n;
}

function find(c: Call): VolumeInfo {
  const n = name(c);
  if (!c.api.engine.volumes.list().some((v) => v.name === n)) throw new ApiError(404, `get ${n}: no such volume`);
  return c.api.engine.volumes.inspect(n);
}

function list(c: Call): void {
  const f = c.query.filters(['name', 'label', 'dangling', 'driver']);
  let vols = c.api.engine.volumes.list();
  const names = f.get('name');
  if (names) vols = vols.filter((v) => names.some((n) => v.name.includes(n)));
  const dangling = f.get('dangling');
  if (dangling) vols = vols.filter((v) => dangling.some((d) => (d === 'true' || d === '1') === (v.usedBy.length === 0)));
  const labels = f.get('label');
  if (labels) vols = vols.filter((v) => labels.every((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in v.labels : v.labels[l.slice(0, eq)] === l.slice(eq + 1);
  }));
  sendJson(c.res, 200, { Volumes: vols.map(view), Warnings: [] });
}

async function create(c: Call): Promise<void> {
  const body = await readJson(c.req);
  const n = body.Name;
  if (n !== undefined && n !== null && n !== '' && typeof n !== 'string') throw badRequest('Name must be a string');
  if (body.Driver && body.Driver !== 'local') throw badRequest(`volume driver ${String(body.Driver).slice(0, 40)} is not supported: isola has local volumes`);
  const labels = body.Labels ?? {};
  if (typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels as object).some((x) => typeof x !== 'string')) throw badRequest('Labels must be a map of strings');
  if (body.DriverOpts && Object.keys(body.DriverOpts as object).length > 0) throw badRequest('DriverOpts are not supported');
  const v = c.api.engine.volumes.create(typeof n === 'string' && n ? n : undefined, labels as Record<string, string>);
  sendJson(c.res, 201, view(c.api.engine.volumes.inspect(v.name)));
}

function remove(c: Call): void {
  find(c);
  c.api.engine.volumes.remove(name(c));
  sendEmpty(c.res, 204);
}

export function register(r: Router): void {
  r.add('GET', '/volumes', list)
    .add('POST', '/volumes/create', create)
    .add('GET', `/volumes/${SEGMENT}`, (c) => sendJson(c.res, 200, view(find(c))))
    .add('DELETE', `/volumes/${SEGMENT}`, remove);
}
