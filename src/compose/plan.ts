import { createHash } from 'node:crypto';
import { invalid } from '../core/errors.js';
import type { ServiceModel, StackModel } from './model.js';

/** The labels every instance of a stack carries, Compose's own names (so `ps --filter label=` works alike). */
export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  configHash: 'com.docker.compose.config-hash',
  oneoff: 'com.docker.compose.oneoff',
  configFiles: 'com.docker.compose.project.config_files',
  workingDir: 'com.docker.compose.project.working_dir',
} as const;

/** `<project>-<service>-<n>`, as Compose v2 names containers. */
export const instanceName = (project: string, service: string, n: number): string => `${project}-${service}-${n}`;

/**
 * The services in an order where each comes after what it depends on (Kahn's algorithm, ties in
 * file order); a cycle is one line naming it.
 */
export function startOrder(services: readonly ServiceModel[]): ServiceModel[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: ServiceModel[] = [];
  while (out.length < services.length) {
    const next = services.find((s) => !done.has(s.name) && s.dependsOn.every((d) => done.has(d.service) || !byName.has(d.service)));
    if (!next) throw invalid(`depends_on has a cycle: ${(dependencyCycle(services) ?? []).join(' -> ')}`, 'remove one of these dependencies');
    done.add(next.name);
    out.push(next);
  }
  return out;
}

/** A dependency cycle (`a -> b -> a`), or null when there is none. */
export function dependencyCycle(services: readonly ServiceModel[]): string[] | null {
  // Peel off what can start; every service left then has a dependency left.
  let left = [...services];
  for (;;) {
    const names = new Set(left.map((s) => s.name));
    const next = left.filter((s) => s.dependsOn.some((d) => names.has(d.service)));
    if (next.length === left.length) break;
    left = next;
  }
  const byName = new Map(left.map((s) => [s.name, s]));
  const start = left[0];
  if (!start) return null;
  // Every service left has a dependency left: walk until a name repeats.
  const path: string[] = [];
  let cur: ServiceModel | undefined = start;
  while (cur && !path.includes(cur.name)) {
    path.push(cur.name);
    cur = cur.dependsOn.map((d) => byName.get(d.service)).find((s) => s !== undefined);
  }
  if (!cur) return path;
  return [...path.slice(path.indexOf(cur.name)), cur.name];
}

/**
 * The hash of what a service's instances are made from (less the replica count and profiles,
 * which do not change an instance), with the image's digest: Compose's config-hash label.
 */
export function configHash(s: ServiceModel, imageDigest: string): string {
  const { replicas: _r, profiles: _p, build: _b, ...rest } = s;
  return createHash('sha256').update(JSON.stringify(sortKeys({ ...rest, imageDigest }))).digest('hex');
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

/** What exists of a service: one row per instance, as the plan needs it. */
export interface Existing {
  id: string;
  name: string;
  service: string;
  number: number;
  hash: string;
  running: boolean;
}

export type Action =
  | { type: 'create'; service: string; number: number }
  | { type: 'recreate'; service: string; number: number; old: Existing }
  | { type: 'start'; service: string; number: number; old: Existing }
  | { type: 'keep'; service: string; number: number; old: Existing }
  | { type: 'remove'; service: string; number: number; old: Existing };

/**
 * Desired against actual, per service (Compose's convergence): replicas 1..N are kept when their
 * hash matches (started when stopped, unless noStart), recreated when it differs, created when
 * missing; numbers above N are removed. Instances of services no longer in the file are orphans,
 * returned apart.
 */
export function planUp(model: StackModel, hashes: ReadonlyMap<string, string>, scale: ReadonlyMap<string, number>, existing: readonly Existing[], noStart: boolean): { actions: Action[]; orphans: Existing[] } {
  const actions: Action[] = [];
  for (const s of startOrder(model.services)) {
    const want = scale.get(s.name) ?? s.replicas;
    const hash = hashes.get(s.name) ?? '';
    const mine = existing.filter((e) => e.service === s.name).sort((a, b) => a.number - b.number);
    for (let n = 1; n <= want; n++) {
      const old = mine.find((e) => e.number === n);
      if (!old) actions.push({ type: 'create', service: s.name, number: n });
      else if (old.hash !== hash) actions.push({ type: 'recreate', service: s.name, number: n, old });
      else if (!old.running && !noStart) actions.push({ type: 'start', service: s.name, number: n, old });
      else actions.push({ type: 'keep', service: s.name, number: n, old });
    }
    for (const old of mine.filter((e) => e.number > want)) actions.push({ type: 'remove', service: s.name, number: old.number, old });
  }
  const names = new Set(model.services.map((s) => s.name));
  return { actions, orphans: existing.filter((e) => !names.has(e.service)) };
}

/** --scale SERVICE=N, each checked against the file's services. */
export function parseScale(items: readonly string[], model: StackModel): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (!m?.[1] || m[2] === undefined) throw invalid(`invalid --scale "${item}"`, 'write --scale SERVICE=N, N a whole number');
    const svc = model.services.find((s) => s.name === m[1]);
    if (!svc) throw invalid(`--scale ${item}: no such service "${m[1]}" in ${model.file}`, `scale one of: ${model.services.map((s) => s.name).join(', ')}`);
    // A fixed host port is the service's, spread over its replicas (front.ts): any number may share it.
    out.set(svc.name, Number(m[2]));
  }
  return out;
}
